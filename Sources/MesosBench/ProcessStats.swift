import Foundation

/// Reads this process's memory and CPU figures from `/proc` (Linux).
enum ProcessStats {
    /// Peak resident set size in MB (`VmHWM`), or `nil` where `/proc` is unavailable.
    static func peakRSSMegabytes() -> Double? {
        Self.statusField("VmHWM:").map { $0 / 1024 }
    }

    /// Starts a new peak: `VmHWM` restarts from the current RSS (Linux: `5` into `/proc/self/clear_refs`).
    @discardableResult
    static func resetPeak() -> Bool {
        (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
    }

    /// Current resident set size in MB (`VmRSS`), split into anonymous memory (heap, stacks) and file-backed
    /// pages (the mapped libraries: Foundation, ICU data, libcurl, …).
    static func currentRSSMegabytes() -> (total: Double, anonymous: Double, file: Double)? {
        guard let total = Self.statusField("VmRSS:"), let anonymous = Self.statusField("RssAnon:"),
            let file = Self.statusField("RssFile:")
        else {
            return nil
        }
        return (total / 1024, anonymous / 1024, file / 1024)
    }

    /// User + system CPU time consumed so far, in seconds (`utime` + `stime` of `/proc/self/stat`).
    static func cpuSeconds() -> Double? {
        guard let text = Self.readProcFile("/proc/self/stat"),
            let close = text.lastIndex(of: ")")
        else {
            return nil
        }
        // Fields after "comm)": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            return nil
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) / ticks
    }

    /// The mappings holding the most resident memory, largest first: (KiB, path or "[anonymous]").
    static func largestMappings(_ count: Int) -> [(kilobytes: Int, name: String)] {
        guard let text = Self.readProcFile("/proc/self/smaps") else { return [] }
        var totals: [String: Int] = [:]
        var current = "[anonymous]"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                current = fields.count >= 6 ? String(fields[5...].joined(separator: " ")) : "[anonymous]"
            } else if fields.first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                totals[current, default: 0] += kilobytes
            }
        }
        return totals.map { (kilobytes: $0.value, name: $0.key) }.sorted { $0.kilobytes > $1.kilobytes }.prefix(count).map { $0 }
    }

    /// The whole text of a `/proc` file. Those files report a size of 0, so they are read until end of file
    /// rather than in one read sized by `stat` (which returns only the first page of a long `smaps`).
    static func readProcFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        while let chunk = try? handle.read(upToCount: 65_536), !chunk.isEmpty {
            bytes.append(contentsOf: chunk)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func statusField(_ name: String) -> Double? {
        guard let text = Self.readProcFile("/proc/self/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let number = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return number.flatMap { Double($0) }
        }
        return nil
    }
}

/// Formats a figure for the report lines.
func fmt(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}

/// Writes one line to standard output unbuffered, so each figure appears as soon as it is measured.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
