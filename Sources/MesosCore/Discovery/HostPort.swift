/// A `host[:port]` authority: a DNS name, an IPv4 address or a bracketed IPv6 address.
package struct HostPort: Sendable, Hashable {
    /// The host; an IPv6 address keeps its brackets (`[::1]`), as URLs need them.
    package var host: String
    /// The port, or `nil` when the text named none.
    package var port: Int?

    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    ///
    /// - Parameter text: The authority, without scheme, user info or path.
    /// - Returns: The parts, or `nil` if `text` is not a usable authority.
    package static func parse(_ text: Substring) -> HostPort? {
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.startIndex...close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else {
                return nil
            }
            let inner = host.dropFirst().dropLast()
            guard !inner.isEmpty, inner.contains(":"),
                inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { return nil }
        } else {
            if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text
                portText = nil
            }
            guard !host.isEmpty,
                host.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._".unicodeScalars.contains($0)) })
            else { return nil }
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(portText), (1...65535).contains(value)
            else { return nil }
            port = value
        }
        return HostPort(host: String(host), port: port)
    }
}
