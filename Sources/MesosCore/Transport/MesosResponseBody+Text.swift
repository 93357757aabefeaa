extension MesosResponseBody {
    /// Reads at most `limit` bytes of the body as text (for error messages), then stops.
    package func prefixText(limit: Int = 4096) async -> String {
        var bytes: [UInt8] = []
        do {
            for try await chunk in self {
                bytes.append(contentsOf: chunk.prefix(limit - bytes.count))
                if bytes.count >= limit { break }
            }
        } catch {
            // A failing error body still gives whatever arrived.
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
