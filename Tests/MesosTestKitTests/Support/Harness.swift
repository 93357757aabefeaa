import Foundation
import MesosCore
import MesosTestKit

/// The two ways a fake master is served.
enum Mode: String, CaseIterable, Sendable, CustomStringConvertible {
    case inMemory
    case http

    var description: String { self.rawValue }
}

/// A fake master plus a way to reach it: its in-memory transport, or a ``FakeMasterServer`` and
/// ``RawHTTPTransport``.
struct Harness: Sendable {
    let mode: Mode
    let master: FakeMaster
    let server: FakeMasterServer?
    let transport: any MesosTransport
    let baseURL: URL

    var schedulerURL: URL { self.baseURL.appending(path: "api/v1/scheduler") }

    static let json = MesosCodec(.json)

    static func frameworkInfo(id: FrameworkID? = nil) -> FrameworkInfo {
        var info = FrameworkInfo()
        info.user = "tester"
        info.name = "fake-master-tests"
        if let id { info.id = id }
        return info
    }

    /// A request to the scheduler endpoint.
    func request(
        _ call: SchedulerCall,
        codec: MesosCodec = Harness.json,
        streamID: String? = nil,
        headers extra: MesosHTTPHeaders = [:],
        timeout: Duration? = nil,
        idleTimeout: Duration? = nil
    ) throws -> MesosHTTPRequest {
        var headers: MesosHTTPHeaders = ["Content-Type": codec.contentType.mediaType]
        if call.type == .subscribe {
            headers["Accept"] = codec.contentType.mediaType
        }
        if let streamID { headers["Mesos-Stream-Id"] = streamID }
        for field in extra { headers[field.name] = field.value }
        return MesosHTTPRequest(
            url: self.schedulerURL,
            headers: headers,
            body: try codec.encode(call: call),
            timeout: timeout,
            idleTimeout: idleTimeout
        )
    }

    /// Sends a request and reads the whole body.
    func exchange(_ request: MesosHTTPRequest) async throws -> (status: Int, headers: MesosHTTPHeaders, text: String) {
        let (head, body) = try await self.transport.send(request)
        let bytes = try await body.collect(upTo: 1 << 24)
        return (head.status, head.headers, String(decoding: bytes, as: UTF8.self))
    }

    /// Sends a non-subscribe call and reads the answer.
    func call(_ call: SchedulerCall, streamID: String?) async throws -> (status: Int, headers: MesosHTTPHeaders, text: String) {
        try await self.exchange(try self.request(call, streamID: streamID))
    }

    /// Subscribes and reads SUBSCRIBED.
    func subscribe(
        id: FrameworkID? = nil,
        codec: MesosCodec = Harness.json
    ) async throws -> Session {
        let (head, body) = try await self.transport.send(
            try self.request(.subscribe(frameworkInfo: Self.frameworkInfo(id: id)), codec: codec)
        )
        var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
        guard head.status == 200, case .subscribed(let subscribed)? = try await events.next() else {
            throw MesosError(code: .subscriptionRefused, message: "status \(head.status)")
        }
        return Session(head: head, subscribed: subscribed, events: events)
    }

    /// Starts a harness, runs `body`, and shuts the server down whatever happens.
    static func with<T>(
        _ mode: Mode,
        configuration: FakeMaster.Configuration = .init(heartbeatInterval: .milliseconds(50)),
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        let master = FakeMaster(configuration: configuration)
        let harness: Harness
        switch mode {
        case .inMemory:
            harness = Harness(mode: mode, master: master, server: nil, transport: master.transport, baseURL: master.inMemoryURL)
        case .http:
            let server = try await FakeMasterServer.start(master: master)
            harness = Harness(mode: mode, master: master, server: server, transport: RawHTTPTransport(), baseURL: server.url)
        }
        do {
            let result = try await body(harness)
            try await harness.server?.shutdown()
            return result
        } catch {
            try? await harness.server?.shutdown()
            throw error
        }
    }
}

/// A live subscription.
struct Session {
    var head: MesosHTTPResponse
    var subscribed: SchedulerEvent.Subscribed
    var events: SchedulerEventSequence<MesosResponseBody>.Iterator

    var frameworkID: FrameworkID { self.subscribed.frameworkID }
    var streamID: String { self.head.headers["Mesos-Stream-Id"] ?? "" }

    /// The next event that is not a heartbeat.
    mutating func nextNonHeartbeat() async throws -> SchedulerEvent? {
        while let event = try await self.events.next() {
            if event != .heartbeat { return event }
        }
        return nil
    }
}
