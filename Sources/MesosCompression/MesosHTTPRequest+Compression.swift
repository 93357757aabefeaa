import MesosCore

extension MesosHTTPRequest {
    /// The body size from which ``compressBody(ifLargerThan:level:)`` compresses by default: 1 KiB, the same
    /// threshold the Mesos master uses for its responses.
    public static let defaultCompressionThreshold = 1024

    /// Gzip-compresses the body and sets `Content-Encoding: gzip` when the body is larger than a threshold.
    ///
    /// Nothing changes when there is no body, the body is not larger than `threshold`, or the request already
    /// has a `Content-Encoding`. The master decompresses such requests itself (its libprocess does), though for
    /// ordinary scheduler calls this rarely pays off.
    ///
    /// - Parameters:
    ///   - threshold: Bodies of at most this many bytes are left alone.
    ///   - level: The zlib compression level, 0 … 9.
    /// - Returns: `true` if the body was compressed.
    /// - Throws: ``MesosError/Code/encodingFailed`` if zlib fails.
    @discardableResult
    public mutating func compressBody(
        ifLargerThan threshold: Int = MesosHTTPRequest.defaultCompressionThreshold,
        level: Int = 6
    ) throws(MesosError) -> Bool {
        guard let body = self.body, body.count > threshold, self.headers["Content-Encoding"] == nil else {
            return false
        }
        self.body = try gzipCompress(body, level: level)
        self.headers["Content-Encoding"] = "gzip"
        return true
    }
}
