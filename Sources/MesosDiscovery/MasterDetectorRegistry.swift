import Foundation
import MesosCore

/// The master detectors an application can choose from by URL scheme: a value passed where it is needed,
/// never a global registration.
///
/// ``defaults`` handles `http`, `https` and `file`; `MesosZooKeeper` adds `zk`:
///
/// ```swift
/// let registry = MasterDetectorRegistry.defaults.adding(.zooKeeper)   // or .withZooKeeper
/// let detector = try registry.makeDetector(url: "zk://zk1:2181/mesos", transport: transport)
/// ```
///
/// `file:///path` is handled by the registry itself: the file's content (surrounding whitespace trimmed) is
/// read when the detector is made and used as the URL, as Mesos does. A value without `://` is read as
/// `host:port[,host:port…]` or a PID `master@ip:port`, and handed to the `http` factory.
public struct MasterDetectorRegistry: Sendable {
    private var factories: [String: MasterDetectorFactory]

    /// The largest `file://` content accepted.
    static let maximumFileSize = 64 * 1024

    /// Creates a registry.
    ///
    /// - Parameter factories: The factories; a later one wins for a scheme listed twice.
    public init(factories: [MasterDetectorFactory] = []) {
        self.factories = [:]
        for factory in factories {
            self.add(factory)
        }
    }

    /// A registry knowing ``MasterDetectorFactory/staticList`` (`http`, `https`).
    public static var defaults: MasterDetectorRegistry {
        MasterDetectorRegistry(factories: [.staticList])
    }

    /// The schemes with a factory, sorted (`file` is always understood in addition).
    public var schemes: [String] {
        self.factories.keys.sorted()
    }

    /// Adds a factory, replacing any factory for the same schemes.
    ///
    /// - Parameter factory: The factory.
    public mutating func add(_ factory: MasterDetectorFactory) {
        for scheme in factory.schemes {
            self.factories[scheme] = factory
        }
    }

    /// This registry with one more factory.
    ///
    /// - Parameter factory: The factory.
    /// - Returns: The extended registry.
    public func adding(_ factory: MasterDetectorFactory) -> MasterDetectorRegistry {
        var copy = self
        copy.add(factory)
        return copy
    }

    /// Builds the detector a URL asks for.
    ///
    /// - Parameters:
    ///   - url: `scheme://…`, `file:///path`, `host:port[,…]` or `master@ip:port`.
    ///   - transport: The HTTP transport for detectors that probe masters.
    /// - Returns: The detector.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the problem: an unknown scheme, an unreadable
    ///   file, or what the chosen factory rejects.
    public func makeDetector(url: String, transport: any MesosTransport) throws(MesosError) -> MasterDetector {
        try self.makeDetector(url: url, context: MasterDetectorFactory.Context(transport: transport), followFile: true)
    }

    private func makeDetector(
        url rawURL: String,
        context: MasterDetectorFactory.Context,
        followFile: Bool
    ) throws(MesosError) -> MasterDetector {
        let url = rawURL.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !url.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "Empty master URL")
        }
        guard let separator = url.range(of: "://") else {
            return try self.makeBare(url, context: context)
        }
        let scheme = url[..<separator.lowerBound].lowercased()
        if scheme == "file" {
            guard followFile else {
                throw MesosError(
                    code: .invalidConfiguration,
                    message: "A file:// master URL may not point to another file:// URL ('\(url)')"
                )
            }
            let contents = try Self.readFile(url: url)
            return try self.makeDetector(url: contents, context: context, followFile: false)
        }
        guard let factory = self.factories[scheme] else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "No master detector for the scheme '\(scheme)' in '\(url)'; known: "
                    + (self.schemes + ["file"]).joined(separator: ", ")
                    + (scheme == "zk" ? " (add MesosZooKeeper's .zooKeeper factory to the registry)" : "")
            )
        }
        return try factory.makeDetector(url: url, context: context)
    }

    /// `host:port[,host:port…]` or `name@ip:port`: an http list.
    private func makeBare(_ url: String, context: MasterDetectorFactory.Context) throws(MesosError) -> MasterDetector {
        guard let factory = self.factories["http"] else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "'\(url)' has no scheme and the registry has no http detector"
            )
        }
        let entries = url.split(separator: ",", omittingEmptySubsequences: false).map { entry -> Substring in
            // A libprocess PID, `master@10.0.0.1:5050`, names the master's address after the `@`.
            if let at = entry.lastIndex(of: "@") { return entry[entry.index(after: at)...] }
            return entry
        }
        return try factory.makeDetector(url: "http://" + entries.joined(separator: ","), context: context)
    }

    private static func readFile(url: String) throws(MesosError) -> String {
        guard let parsed = URL(string: url), parsed.isFileURL, !parsed.path.isEmpty,
            parsed.host == nil || parsed.host == "" || parsed.host == "localhost"
        else {
            throw MesosError(code: .invalidConfiguration, message: "Malformed file URL '\(url)' (want file:///path)")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: parsed)
            defer { try? handle.close() }
            data = try handle.read(upToCount: Self.maximumFileSize + 1) ?? Data()
        } catch {
            throw MesosError(
                code: .invalidConfiguration,
                message: "Cannot read the master URL from \(parsed.path): \(error.localizedDescription)",
                cause: error
            )
        }
        guard data.count <= Self.maximumFileSize else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "\(parsed.path) is larger than \(Self.maximumFileSize) bytes; it should hold one master URL"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MesosError(code: .invalidConfiguration, message: "\(parsed.path) is not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "\(parsed.path) is empty; it should hold a master URL")
        }
        return trimmed
    }
}
