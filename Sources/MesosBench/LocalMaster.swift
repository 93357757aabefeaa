import Foundation
import MesosCore
import MesosRecordIO
import NIOCore
import NIOHTTP1
import NIOPosix

/// The prebuilt bytes the local master streams: one OFFERS event in both encodings, framed as RecordIO and
/// repeated into large buffers so that writing them costs almost nothing.
struct BenchPayloads: Sendable {
    /// The OFFERS event, JSON (compact) and protobuf.
    let offersJSON: [UInt8]
    let offersProtobuf: [UInt8]
    /// One framed record of each.
    let framedJSON: [UInt8]
    let framedProtobuf: [UInt8]
    /// The SUBSCRIBED event the idle endpoint sends, per encoding.
    let subscribedJSON: [UInt8]
    let subscribedProtobuf: [UInt8]

    /// The benchmark's OFFERS event: 4 offers, each with cpus/mem/disk scalars, a ports range, one text
    /// attribute, a hostname, a URL and ids.
    static func offersEvent() -> SchedulerEventMessage {
        var event = SchedulerEventMessage()
        event.type = .offers
        for index in 0..<4 {
            var offer = Offer()
            offer.id.value = "3f2a1c5e-8b7d-4e21-9a60-0c1d2e3f4a5b-O\(1000 + index)"
            offer.frameworkID.value = "3f2a1c5e-8b7d-4e21-9a60-0c1d2e3f4a5b-0001"
            offer.agentID.value = "7c9e6679-7425-40de-944b-e07fc1f90ae7-S\(index)"
            offer.hostname = "agent-\(index).example.com"
            offer.url.scheme = "http"
            offer.url.address.hostname = offer.hostname
            offer.url.address.ip = "10.20.30.\(40 + index)"
            offer.url.address.port = 5051
            offer.url.path = "/slave(1)"
            for (name, amount) in [("cpus", 16.0), ("mem", 63_488.0), ("disk", 917_504.0)] {
                var resource = Resource()
                resource.name = name
                resource.type = .scalar
                resource.scalar.value = amount
                offer.resources.append(resource)
            }
            var ports = Resource()
            ports.name = "ports"
            ports.type = .ranges
            var range = Value.Range()
            range.begin = 31_000
            range.end = 32_000
            ports.ranges.range = [range]
            offer.resources.append(ports)
            var attribute = Attribute()
            attribute.name = "rack"
            attribute.type = .text
            attribute.text.value = "rack-12"
            offer.attributes.append(attribute)
            offer.allocationInfo.role = "*"
            event.offers.offers.append(offer)
        }
        return event
    }

    static func make() throws -> BenchPayloads {
        let offers = Self.offersEvent()
        var subscribed = SchedulerEventMessage()
        subscribed.type = .subscribed
        subscribed.subscribed.frameworkID.value = "3f2a1c5e-8b7d-4e21-9a60-0c1d2e3f4a5b-0001"
        subscribed.subscribed.heartbeatIntervalSeconds = 15
        let json = MesosCodec(.json)
        let protobuf = MesosCodec(.protobuf)
        // Mesos writes 64-bit integers as bare numbers; swift-protobuf quotes them.
        let offersJSON = Self.unquotingIntegers(of: ["begin", "end"], in: try json.encode(offers))
        // Both encodings must decode back to the event (this also runs the JSON fast path once).
        guard try json.decodeEvent(offersJSON[...]).wireMessage == offers,
            try json.decode(SchedulerEventMessage.self, from: offersJSON[...]) == offers
        else {
            throw BenchError("The prebuilt JSON OFFERS event does not decode back to itself")
        }
        let offersProtobuf = try protobuf.encode(offers)
        return BenchPayloads(
            offersJSON: offersJSON,
            offersProtobuf: offersProtobuf,
            framedJSON: RecordIOEncoder.encode(offersJSON),
            framedProtobuf: RecordIOEncoder.encode(offersProtobuf),
            subscribedJSON: RecordIOEncoder.encode(try json.encode(subscribed)),
            subscribedProtobuf: RecordIOEncoder.encode(try protobuf.encode(subscribed))
        )
    }

    /// `"key":"123"` → `"key":123` for the given keys (no regular expressions: they would load the regex
    /// libraries into the measured process).
    static func unquotingIntegers(of keys: [String], in json: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(json.count)
        var index = 0
        outer: while index < json.count {
            for key in keys {
                let prefix = Array("\"\(key)\":\"".utf8)
                if json[index...].starts(with: prefix) {
                    var end = index + prefix.count
                    while end < json.count, json[end] >= UInt8(ascii: "0"), json[end] <= UInt8(ascii: "9") { end += 1 }
                    if end > index + prefix.count, end < json.count, json[end] == UInt8(ascii: "\"") {
                        output.append(contentsOf: prefix.dropLast())
                        output.append(contentsOf: json[(index + prefix.count)..<end])
                        index = end + 1
                        continue outer
                    }
                }
            }
            output.append(json[index])
            index += 1
        }
        return output
    }

    /// About `size` bytes of back-to-back framed records.
    static func repeated(_ record: [UInt8], toAbout size: Int) -> ByteBuffer {
        let copies = max(1, size / record.count)
        var buffer = ByteBufferAllocator().buffer(capacity: copies * record.count)
        for _ in 0..<copies {
            buffer.writeBytes(record)
        }
        return buffer
    }
}

/// Where the self-contained run's server is.
protocol BenchServer: Sendable {
    /// The port on 127.0.0.1.
    var port: Int { get }
    /// Stops it.
    func shutdown() async
}

extension BenchServer {
    var baseURL: URL { URL(string: "http://127.0.0.1:\(self.port)")! }
}

/// The local server in a child process (`mesos-bench serve`), so that it adds nothing to this process's RSS.
final class ChildServer: BenchServer {
    let port: Int
    private let process: Process
    private let input: Pipe

    private init(port: Int, process: Process, input: Pipe) {
        self.port = port
        self.process = process
        self.input = input
    }

    static func start() throws -> ChildServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first else {
                throw BenchError("The server process ended before printing its port")
            }
            if first == UInt8(ascii: "\n") { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("port="), let port = Int(text.dropFirst(5)) else {
            throw BenchError("The server process printed \(text)")
        }
        return ChildServer(port: port, process: process, input: input)
    }

    func shutdown() async {
        try? self.input.fileHandleForWriting.close()
        self.process.terminate()
        self.process.waitUntilExit()
    }
}

/// A minimal Mesos master on 127.0.0.1 for the self-contained run.
///
/// - `POST /stream/api/v1/scheduler` (any call): 200 and an endless stream of the prebuilt OFFERS records in
///   the encoding the `Accept` header asks for, written as large prebuilt buffers.
/// - `POST /api/v1/scheduler` with SUBSCRIBE: 200, a SUBSCRIBED event, then silence (the idle stream).
/// - `POST /api/v1/scheduler` with any other call: 202 with an empty body, on a kept-alive connection.
/// - `POST /offers/api/v1/scheduler` with SUBSCRIBE: 200, a SUBSCRIBED event, then the endless OFFERS stream (for
///   `ingest --decline` through `MesosScheduler`); any other call there: 202 as above.
/// - With `offersOnSubscribe`, `POST /api/v1/scheduler` with SUBSCRIBE behaves as under `/offers/`: for clients
///   that cannot put a path before the endpoint (the Python peers of `scripts/bench-peers.sh`).
final class LocalMaster: BenchServer {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: any Channel
    private let acceptTask: Task<Void, Never>

    private init(port: Int, group: MultiThreadedEventLoopGroup, serverChannel: any Channel, acceptTask: Task<Void, Never>) {
        self.port = port
        self.group = group
        self.serverChannel = serverChannel
        self.acceptTask = acceptTask
    }

    static func start(payloads: BenchPayloads, port: Int = 0, offersOnSubscribe: Bool = false) async throws -> LocalMaster {
        // The shared singleton group: it lives as long as the process and needs no shutdown.
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        let streams = StreamBuffers(
            json: BenchPayloads.repeated(payloads.framedJSON, toAbout: 256 * 1024),
            protobuf: BenchPayloads.repeated(payloads.framedProtobuf, toAbout: 256 * 1024)
        )
        let acceptTask = Task<Void, Never> {
            try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask {
                            try? await Self.serve(
                                connection, payloads: payloads, streams: streams, offersOnSubscribe: offersOnSubscribe)
                        }
                    }
                }
            }
        }
        return LocalMaster(port: port, group: group, serverChannel: server.channel, acceptTask: acceptTask)
    }

    /// Stops accepting connections; open ones end when their clients go away.
    func shutdown() async {
        try? await self.serverChannel.close()
        self.acceptTask.cancel()
    }

    private struct StreamBuffers: Sendable {
        let json: ByteBuffer
        let protobuf: ByteBuffer
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        payloads: BenchPayloads,
        streams: StreamBuffers,
        offersOnSubscribe: Bool
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            var parts = inbound.makeAsyncIterator()
            while let part = try await parts.next() {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.removeAll(keepingCapacity: true)
                case .body(var buffer):
                    body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                case .end:
                    guard let requestHead = head else { continue }
                    head = nil
                    let wantsJSON = requestHead.headers.first(name: "Accept")?.contains("json") ?? true
                    let contentType: MesosContentType = wantsJSON ? .json : .protobuf
                    if requestHead.uri.hasPrefix("/stream/") {
                        try await outbound.write(.head(Self.streamHead(contentType)))
                        let buffer = wantsJSON ? streams.json : streams.protobuf
                        while true {
                            try await outbound.write(.body(.byteBuffer(buffer)))
                        }
                    }
                    let requestType = requestHead.headers.first(name: "Content-Type")
                        .flatMap(MesosContentType.init(mediaType:)) ?? .json
                    let call = try? MesosCodec(requestType).decode(SchedulerCall.self, from: body[...])
                    if call?.type == .subscribe {
                        try await outbound.write(.head(Self.streamHead(contentType)))
                        let subscribed = wantsJSON ? payloads.subscribedJSON : payloads.subscribedProtobuf
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: subscribed))))
                        if offersOnSubscribe || requestHead.uri.hasPrefix("/offers/") {
                            let buffer = wantsJSON ? streams.json : streams.protobuf
                            while true {
                                try await outbound.write(.body(.byteBuffer(buffer)))
                            }
                        }
                        // Stay silent until the client goes away.
                        while try await parts.next() != nil {}
                        return
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: "0")
                    let status: HTTPResponseStatus = call == nil ? .badRequest : .accepted
                    try await outbound.write(contentsOf: [
                        .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                        .end(nil),
                    ])
                }
            }
        }
    }

    private static func streamHead(_ contentType: MesosContentType) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType.mediaType)
        headers.add(name: "Mesos-Stream-Id", value: "0d3f8a3e-6d0e-4a55-9b2c-5a1f2e7c9b10")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        return HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
    }
}
