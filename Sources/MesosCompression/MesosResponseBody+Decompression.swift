import MesosCore

extension MesosResponseBody {
    /// Returns this body decoded according to a `Content-Encoding` header value.
    ///
    /// Transports never decode bodies; the client layer calls this (or ``decompressed(for:maximumSize:)``) so
    /// every transport behaves the same. Identity bodies (no header, `identity`) are returned unchanged, `gzip`,
    /// `x-gzip` and `deflate` are decoded lazily as the body is iterated, and stacked codings such as
    /// `deflate, gzip` are undone in reverse order.
    ///
    /// - Parameters:
    ///   - contentEncoding: The response's `Content-Encoding` value, or `nil`.
    ///   - maximumSize: The most decoded bytes to accept; more throws ``MesosError/Code/recordTooLarge`` while
    ///     iterating.
    /// - Returns: The decoded body.
    /// - Throws: ``MesosError/Code/decodingFailed`` for a coding that cannot be decoded (`br`, `zstd`, …).
    public func decoded(
        contentEncoding: String?,
        maximumSize: Int = Inflater.defaultMaximumOutputSize
    ) throws(MesosError) -> MesosResponseBody {
        let codings = try ContentCoding.parse(contentEncoding: contentEncoding)
        var body = self
        for coding in codings.reversed() {
            guard let format = coding.inflaterFormat else { continue }
            body = MesosResponseBody(body.decompressed(format, maximumSize: maximumSize))
        }
        return body
    }

    /// Returns this body decoded according to the response's `Content-Encoding` header.
    ///
    /// ```swift
    /// let (head, raw) = try await transport.send(request)
    /// let text = try await raw.decompressed(for: head).collect(upTo: 1 << 20)
    /// ```
    ///
    /// - Parameters:
    ///   - response: The response head the body belongs to.
    ///   - maximumSize: The most decoded bytes to accept.
    /// - Returns: The decoded body (this body itself when it is not encoded).
    /// - Throws: ``MesosError/Code/decodingFailed`` for a coding that cannot be decoded.
    public func decompressed(
        for response: MesosHTTPResponse,
        maximumSize: Int = Inflater.defaultMaximumOutputSize
    ) throws(MesosError) -> MesosResponseBody {
        try self.decoded(contentEncoding: response.headers["Content-Encoding"], maximumSize: maximumSize)
    }
}

extension MesosHTTPResponse {
    /// Decodes a body and returns a head that describes the decoded body.
    ///
    /// When the body was encoded, the returned head has no `Content-Encoding` and no `Content-Length` (the length
    /// was that of the encoded bytes), so nothing downstream decodes twice. An identity response is returned as
    /// it is.
    ///
    /// - Parameters:
    ///   - body: The body as the transport returned it.
    ///   - maximumSize: The most decoded bytes to accept.
    /// - Returns: The adjusted head and the decoded body.
    /// - Throws: ``MesosError/Code/decodingFailed`` for a coding that cannot be decoded.
    public func decodingContent(
        of body: MesosResponseBody,
        maximumSize: Int = Inflater.defaultMaximumOutputSize
    ) throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let codings = try ContentCoding.parse(contentEncoding: self.headers["Content-Encoding"])
        guard !codings.isEmpty else {
            return (self, body)
        }
        var head = self
        head.headers["Content-Encoding"] = nil
        head.headers["Content-Length"] = nil
        return (head, try body.decompressed(for: self, maximumSize: maximumSize))
    }
}
