import Foundation
import MesosCore
import MesosTestKit
import Testing

/// A fake master reachable through one transport kind: in memory, or over HTTP on 127.0.0.1.
struct Endpoint: Sendable {
    let kind: TransportKind
    let master: FakeMaster
    let server: FakeMasterServer?
    let transport: any MesosTransport
    let baseURL: URL

    static let json = MesosCodec(.json)

    var schedulerURL: URL { self.baseURL.appending(path: "api/v1/scheduler") }

    func url(_ path: String) -> URL { self.baseURL.appending(path: path) }

    static func frameworkInfo(id: FrameworkID? = nil) -> FrameworkInfo {
        var info = FrameworkInfo()
        info.user = "conformance"
        info.name = "transport-conformance"
        if let id { info.id = id }
        return info
    }

    func request(
        _ call: SchedulerCall,
        streamID: String? = nil,
        timeout: Duration? = nil,
        idleTimeout: Duration? = nil
    ) throws -> MesosHTTPRequest {
        var headers: MesosHTTPHeaders = ["Content-Type": "application/json"]
        if call.type == .subscribe { headers["Accept"] = "application/json" }
        if let streamID { headers["Mesos-Stream-Id"] = streamID }
        return MesosHTTPRequest(
            url: self.schedulerURL,
            headers: headers,
            body: try Self.json.encode(call: call),
            timeout: timeout,
            idleTimeout: idleTimeout
        )
    }

    /// Subscribes and returns the head and the event iterator, positioned after SUBSCRIBED.
    func subscribe(
        timeout: Duration? = nil,
        idleTimeout: Duration? = nil
    ) async throws -> (head: MesosHTTPResponse, frameworkID: FrameworkID, events: SchedulerEventSequence<MesosResponseBody>.Iterator) {
        let (head, body) = try await self.transport.send(
            try self.request(.subscribe(frameworkInfo: Self.frameworkInfo()), timeout: timeout, idleTimeout: idleTimeout)
        )
        #expect(head.status == 200)
        var events = body.schedulerEvents(codec: Self.json).makeAsyncIterator()
        guard case .subscribed(let subscribed)? = try await events.next() else {
            throw MesosError(code: .subscriptionRefused, message: "no SUBSCRIBED")
        }
        return (head, subscribed.frameworkID, events)
    }

    /// Has the master push `count` task updates (`task-0`…) on the framework's stream and checks that they arrive
    /// complete and in order.
    func expectUpdatesInOrder(
        _ count: Int,
        frameworkID: FrameworkID,
        events: inout SchedulerEventSequence<MesosResponseBody>.Iterator
    ) async throws {
        for index in 0..<count {
            var status = TaskStatus()
            status.taskID.value = "task-\(index)"
            status.state = .taskRunning
            try await self.master.send(.update(status), to: frameworkID)
        }
        var next = 0
        while next < count, let event = try await events.next() {
            guard case .update(let status) = event else { continue }
            #expect(status.taskID.value == "task-\(next)")
            next += 1
        }
        #expect(next == count)
    }

    /// Sends a call and reads the whole answer.
    func call(_ call: SchedulerCall, streamID: String) async throws -> (status: Int, text: String) {
        let (head, body) = try await self.transport.send(try self.request(call, streamID: streamID, timeout: .seconds(10)))
        return (head.status, String(decoding: try await body.collect(upTo: 1 << 20), as: UTF8.self))
    }

    /// Starts a master (and a server for networked kinds), runs `body`, and shuts down whatever happens.
    static func with<T>(
        _ kind: TransportKind,
        configuration: FakeMaster.Configuration = .init(heartbeatInterval: .milliseconds(50)),
        _ body: (Endpoint) async throws -> T
    ) async throws -> T {
        let master = FakeMaster(configuration: configuration)
        let server = kind.isNetworked ? try await FakeMasterServer.start(master: master) : nil
        let transport = makeTransport(kind, inMemory: master.transport.handler)
        let endpoint = Endpoint(
            kind: kind,
            master: master,
            server: server,
            transport: transport,
            baseURL: server?.url ?? master.inMemoryURL
        )
        do {
            let result = try await withDeadline(.seconds(60)) { try await body(endpoint) }
            try await server?.shutdown()
            return result
        } catch {
            try? await server?.shutdown()
            throw error
        }
    }

    /// The connection a recorded request came on is closed (always true in memory, where there is none).
    func connectionClosed(_ id: Int?) -> Bool {
        guard let server = self.server, let id else { return true }
        return !server.openConnectionIDs.contains(id)
    }
}

/// Fails instead of hanging when a transport never answers.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "the test did not finish within \(self.limit)" }
}

/// Runs `body`, throwing ``DeadlineExceeded`` if it takes longer than `limit`.
func withDeadline<T>(_ limit: Duration, _ body: () async throws -> T) async throws -> T {
    try await withoutActuallyEscaping(body) { body in
        let box = UncheckedBody(body: body)
        return try await withThrowingTaskGroup(of: UncheckedResult<T>?.self) { group in
            group.addTask { UncheckedResult(value: try await box.body()) }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw DeadlineExceeded(limit: limit)
            }
            return result.value
        }
    }
}

private struct UncheckedBody<T>: @unchecked Sendable {
    let body: () async throws -> T
}

private struct UncheckedResult<T>: @unchecked Sendable {
    let value: T
}

/// Resident memory of this process, in bytes (Linux only).
func residentMemory() -> Int? {
    #if os(Linux)
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * 4096
    #else
    return nil
    #endif
}

/// The most the kernel may buffer on one loopback connection: receive plus send buffer maxima (Linux), or 16 MiB.
func socketBufferAllowance() -> Int {
    #if os(Linux)
    func maximum(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).last.flatMap { Int($0) }
    }
    if let receive = maximum("/proc/sys/net/ipv4/tcp_rmem"), let send = maximum("/proc/sys/net/ipv4/tcp_wmem") {
        return receive + send
    }
    #endif
    return 16 << 20
}
