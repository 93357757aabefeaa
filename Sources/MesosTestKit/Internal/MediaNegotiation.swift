import Foundation
import MesosCore

/// Chooses the SUBSCRIBE response encoding from an `Accept` header the way the master does.
///
/// JSON is tried first (`application/json`, `application/*`, `*/*`), then protobuf. For each candidate the most
/// specific matching media range decides, and `q=0` refuses. A missing or empty header accepts everything.
enum MediaNegotiation {
    static func negotiate(accept: String?) -> MesosContentType? {
        guard let accept, !accept.allSatisfy({ $0 == " " || $0 == "\t" }) else {
            return .json
        }
        let ranges = accept.split(separator: ",").compactMap(MediaRange.init)
        if self.accepts(ranges, type: "application", subtype: "json") {
            return .json
        }
        if self.accepts(ranges, type: "application", subtype: "x-protobuf") {
            return .protobuf
        }
        return nil
    }

    private static func accepts(_ ranges: [MediaRange], type: String, subtype: String) -> Bool {
        let exact = ranges.filter { $0.type == type && $0.subtype == subtype }
        let partial = ranges.filter { $0.type == type && $0.subtype == "*" }
        let any = ranges.filter { $0.type == "*" && $0.subtype == "*" }
        guard let best = [exact, partial, any].first(where: { !$0.isEmpty }) else {
            return false
        }
        return best.contains { $0.quality > 0 }
    }

    private struct MediaRange {
        var type: String
        var subtype: String
        var quality: Double

        init?(_ text: Substring) {
            let parts = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let media = parts.first else { return nil }
            let pieces = media.split(separator: "/", maxSplits: 1)
            guard pieces.count == 2 else { return nil }
            self.type = String(pieces[0])
            self.subtype = String(pieces[1])
            self.quality = 1
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == "q" {
                    guard let quality = Double(pair[1].trimmingCharacters(in: .whitespaces)), (0...1).contains(quality)
                    else { return nil }
                    self.quality = quality
                }
            }
        }
    }
}
