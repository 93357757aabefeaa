import Foundation

/// One entry of a sandbox directory listing, from `LIST_FILES` or the legacy `/files/browse`.
public struct TaskFileInfo: Sendable, Hashable {
    /// The entry's path: the listed path, `/`, and the entry's name.
    public var path: String
    /// The size in bytes.
    public var size: UInt64
    /// The number of hard links.
    public var linkCount: Int
    /// The permissions as `ls -l` prints them, with the type first (`-rw-r--r--`, `drwxr-xr-x`).
    public var mode: String
    /// The modification time in whole seconds since the epoch.
    public var modificationTime: Int64
    /// The owner's user name.
    public var user: String
    /// The owner's group name.
    public var group: String

    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - path: The path.
    ///   - size: The size in bytes.
    ///   - linkCount: The number of hard links.
    ///   - mode: The `ls -l` style mode.
    ///   - modificationTime: Seconds since the epoch.
    ///   - user: The owner.
    ///   - group: The group.
    public init(
        path: String,
        size: UInt64,
        linkCount: Int = 1,
        mode: String = "-rw-r--r--",
        modificationTime: Int64 = 0,
        user: String = "",
        group: String = ""
    ) {
        self.path = path
        self.size = size
        self.linkCount = linkCount
        self.mode = mode
        self.modificationTime = modificationTime
        self.user = user
        self.group = group
    }

    /// The last path component.
    public var name: String {
        self.path.split(separator: "/").last.map(String.init) ?? self.path
    }

    /// Whether the entry is a directory.
    public var isDirectory: Bool {
        self.mode.hasPrefix("d")
    }

    /// Turns a numeric `st_mode` (type bits and permissions, as `LIST_FILES` reports it) into `ls -l` form.
    ///
    /// - Parameter mode: The `st_mode` value, e.g. 33188 (`-rw-r--r--`) or 16877 (`drwxr-xr-x`).
    /// - Returns: Ten characters.
    public static func modeString(_ mode: UInt32) -> String {
        let type: Character
        switch mode & 0o170000 {
        case 0o040000: type = "d"
        case 0o120000: type = "l"
        case 0o020000: type = "c"
        case 0o060000: type = "b"
        case 0o010000: type = "p"
        case 0o140000: type = "s"
        default: type = "-"
        }
        var text = String(type)
        let letters: [Character] = ["r", "w", "x"]
        for bit in 0..<9 {
            let set = mode & (0o400 >> UInt32(bit)) != 0
            text.append(set ? letters[bit % 3] : "-")
        }
        return text
    }
}
