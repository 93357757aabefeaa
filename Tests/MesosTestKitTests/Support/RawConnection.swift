import NIOCore
import NIOPosix

/// A plain TCP connection to 127.0.0.1 for testing the fake master's HTTP/1.1 at the byte level.
///
/// It has no HTTP stack: tests write request bytes themselves and parse the answer with ``ByteReader``, so the
/// wire format (status line, chunk sizes, the terminating chunk, a cut connection) is visible exactly.
final class RawConnection: Sendable {
    let channel: any Channel
    let inbound: AsyncStream<[UInt8]>

    private init(channel: any Channel, inbound: AsyncStream<[UInt8]>) {
        self.channel = channel
        self.inbound = inbound
    }

    /// Connects to `127.0.0.1:port`.
    static func connect(port: Int, autoRead: Bool = true) async throws -> RawConnection {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, inbound: stream)
    }

    func write(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(self.channel.allocator.buffer(bytes: bytes)).get()
    }

    func write(_ text: String) async throws {
        try await self.write(Array(text.utf8))
    }

    /// Writes a request with a `Content-Length` body.
    func send(
        _ method: String,
        _ target: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers {
            text += "\(name): \(value)\r\n"
        }
        if !body.isEmpty || method == "POST" {
            text += "Content-Length: \(body.count)\r\n"
        }
        text += "\r\n"
        try await self.write(Array(text.utf8) + body)
    }

    func setAutoRead(_ value: Bool) async throws {
        try await self.channel.setOption(.autoRead, value: value).get()
    }

    func close() async {
        try? await self.channel.close()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<[UInt8]>.Continuation

        init(continuation: AsyncStream<[UInt8]>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.continuation.yield(Array(self.unwrapInboundIn(data).readableBytesView))
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.continuation.finish()
            context.close(promise: nil)
        }
    }
}

/// Reads HTTP/1.1 responses from a ``RawConnection``'s bytes.
struct ByteReader {
    /// The connection ended where more bytes were required.
    struct EndOfStream: Error {}
    /// The bytes are not HTTP/1.1 as expected.
    struct Malformed: Error { var what: String }

    private var iterator: AsyncStream<[UInt8]>.Iterator
    private var buffer: [UInt8] = []

    init(_ connection: RawConnection) {
        self.iterator = connection.inbound.makeAsyncIterator()
    }

    /// `false` once the peer has closed the connection and everything was read.
    mutating func isAtEnd() async -> Bool {
        if !self.buffer.isEmpty { return false }
        guard let more = await self.iterator.next() else { return true }
        self.buffer += more
        return self.buffer.isEmpty
    }

    private mutating func fill() async throws {
        guard let more = await self.iterator.next() else { throw EndOfStream() }
        self.buffer += more
    }

    mutating func readLine() async throws -> String {
        while true {
            if let index = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(self.buffer[..<index])
                self.buffer.removeFirst(index + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try await self.fill()
        }
    }

    mutating func read(count: Int) async throws -> [UInt8] {
        while self.buffer.count < count {
            try await self.fill()
        }
        let bytes = Array(self.buffer.prefix(count))
        self.buffer.removeFirst(count)
        return bytes
    }

    /// Reads whatever is buffered or arrives next.
    mutating func readAvailable() async throws -> [UInt8] {
        if self.buffer.isEmpty { try await self.fill() }
        defer { self.buffer = [] }
        return self.buffer
    }

    /// Reads a status line and headers; skips `100 Continue` interim responses.
    mutating func readHead() async throws -> RawHead {
        while true {
            let statusLine = try await self.readLine()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
                throw Malformed(what: "status line '\(statusLine)'")
            }
            var headers: [(String, String)] = []
            while true {
                let line = try await self.readLine()
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { throw Malformed(what: "header '\(line)'") }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces()))
            }
            if status == 100 { continue }
            return RawHead(status: status, headers: headers)
        }
    }

    /// Reads one chunk of a chunked body; `nil` at the terminating zero-size chunk.
    mutating func readChunk() async throws -> [UInt8]? {
        let sizeLine = try await self.readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw Malformed(what: "chunk size '\(sizeLine)'")
        }
        if size == 0 {
            _ = try await self.readLine()
            return nil
        }
        let data = try await self.read(count: size)
        guard try await self.readLine().isEmpty else { throw Malformed(what: "chunk without CRLF") }
        return data
    }

    /// Reads a whole response: head, then a `Content-Length` or chunked body.
    mutating func readResponse() async throws -> (head: RawHead, body: [UInt8]) {
        let head = try await self.readHead()
        if let length = head["Content-Length"].flatMap({ Int($0) }) {
            return (head, try await self.read(count: length))
        }
        if head["Transfer-Encoding"]?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while let chunk = try await self.readChunk() { body += chunk }
            return (head, body)
        }
        return (head, [])
    }
}

/// A parsed status line and headers.
struct RawHead: Sendable {
    var status: Int
    var headers: [(String, String)]

    subscript(name: String) -> String? {
        self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
