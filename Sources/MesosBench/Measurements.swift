import Foundation
import ArgumentParser
import MesosCore
import MesosCurlTransport
import MesosNIOTransport
import MesosRecordIO
import MesosScheduler
import MesosURLSessionTransport
import Synchronization

/// Which transport adapter a run uses.
enum TransportKind: String, CaseIterable, Sendable {
    case curl
    case urlsession
    case nio

    func make() -> any MesosTransport {
        switch self {
        case .curl: return MesosCurlTransport()
        case .urlsession: return MesosURLSessionTransport()
        case .nio: return MesosNIOTransport()
        }
    }
}

/// The outcome of one ingest run.
struct IngestResult: Sendable {
    var events: Int
    var bytes: Int
    var seconds: Double
    /// Something derived from every offer, so the consumer's work cannot be optimized away.
    var checksum: Double

    var eventsPerSecond: Double { Double(self.events) / self.seconds }
    var megabytesPerSecond: Double { Double(self.bytes) / self.seconds / 1_000_000 }
}

/// The outcome of one calls run.
struct CallsResult: Sendable {
    var calls: Int
    var accepted: Int
    var errors: Int
    var seconds: Double
    var firstError: String?

    var callsPerSecond: Double { Double(self.calls) / self.seconds }
}

enum Measure {
    /// A SUBSCRIBE request straight through a transport (no scheduler service).
    static func subscribeRequest(url: URL, contentType: MesosContentType) throws -> MesosHTTPRequest {
        var info = FrameworkInfo()
        info.user = "root"
        info.name = "mesos-bench"
        let body = try MesosCodec(contentType).encode(call: .subscribe(frameworkInfo: info))
        return MesosHTTPRequest(
            url: url,
            headers: ["Content-Type": contentType.mediaType, "Accept": contentType.mediaType],
            body: body
        )
    }

    /// The floor: the transport reads the stream and RecordIO frames it; records are counted, not decoded.
    static func floor(
        transport: any MesosTransport,
        url: URL,
        contentType: MesosContentType,
        events: Int
    ) async throws -> IngestResult {
        let (response, body) = try await transport.send(try Self.subscribeRequest(url: url, contentType: contentType))
        guard response.status == 200 else {
            throw BenchError("SUBSCRIBE answered \(response.status)")
        }
        var count = 0
        var bytes = 0
        var checksum = 0.0
        let clock = ContinuousClock()
        let start = clock.now
        for try await record in body.recordIORecords() {
            count += 1
            bytes += record.count
            checksum += Double(record[record.startIndex])
            if count == events { break }
        }
        return IngestResult(events: count, bytes: bytes, seconds: Self.seconds(clock.now - start), checksum: checksum)
    }

    /// Typed ingest through the transport: RecordIO framing, then ``MesosCodec/decodeEvent(_:state:)`` for every
    /// record (what `schedulerEvents(codec:)` does, with the record sizes counted), and a consumer that touches
    /// every offer. It consumes only: no calls are made.
    static func typed(
        transport: any MesosTransport,
        url: URL,
        contentType: MesosContentType,
        events: Int,
        genericDecoder: Bool = false,
        decodingConcurrency: Int? = nil
    ) async throws -> IngestResult {
        if let decodingConcurrency {
            return try await Self.typedParallel(
                transport: transport, url: url, contentType: contentType, events: events,
                decodingConcurrency: decodingConcurrency)
        }
        let (response, body) = try await transport.send(try Self.subscribeRequest(url: url, contentType: contentType))
        guard response.status == 200 else {
            throw BenchError("SUBSCRIBE answered \(response.status)")
        }
        let codec = MesosCodec(contentType)
        var count = 0
        var bytes = 0
        var checksum = 0.0
        let clock = ContinuousClock()
        var start = clock.now
        // What `schedulerEvents(codec:)` keeps for its stream: the strings that recur from event to event.
        var state = MesosStreamDecodingState()
        for try await record in body.recordIORecords() {
            // `genericDecoder`: swift-protobuf's own decoder only (the figure before the fast JSON path).
            let event =
                genericDecoder
                ? SchedulerEvent(try codec.decode(SchedulerEventMessage.self, from: record))
                : try codec.decodeEvent(record, state: &state)
            switch event {
            case .subscribed:
                start = clock.now
            case .offers(let offers):
                checksum += Self.touch(offers)
                count += 1
                bytes += record.count
            case .error(let message):
                throw BenchError("The master sent ERROR: \(message)")
            default:
                break
            }
            if count == events { break }
        }
        return IngestResult(events: count, bytes: bytes, seconds: Self.seconds(clock.now - start), checksum: checksum)
    }

    /// Typed ingest the way `MesosScheduler` reads its stream: `schedulerEvents(codec:decodingConcurrency:)`
    /// frames on the consuming task and splits large batches with up to `decodingConcurrency` helper tasks, in
    /// order. Megabytes
    /// count the body bytes (RecordIO headers included).
    static func typedParallel(
        transport: any MesosTransport,
        url: URL,
        contentType: MesosContentType,
        events: Int,
        decodingConcurrency: Int
    ) async throws -> IngestResult {
        let (response, body) = try await transport.send(try Self.subscribeRequest(url: url, contentType: contentType))
        guard response.status == 200 else {
            throw BenchError("SUBSCRIBE answered \(response.status)")
        }
        let codec = MesosCodec(contentType)
        let received = Counter()
        let counted = body.map { chunk in
            received.value.add(chunk.count, ordering: .relaxed)
            return chunk
        }
        var count = 0
        var checksum = 0.0
        var bytesAtStart = 0
        let clock = ContinuousClock()
        var start = clock.now
        for try await event in MesosResponseBody(counted).schedulerEvents(codec: codec, decodingConcurrency: decodingConcurrency) {
            switch event {
            case .subscribed:
                start = clock.now
                bytesAtStart = received.value.load(ordering: .relaxed)
            case .offers(let offers):
                checksum += Self.touch(offers)
                count += 1
            case .error(let message):
                throw BenchError("The master sent ERROR: \(message)")
            default:
                break
            }
            if count == events { break }
        }
        let seconds = Self.seconds(clock.now - start)
        let bytes = received.value.load(ordering: .relaxed) - bytesAtStart
        return IngestResult(events: count, bytes: bytes, seconds: seconds, checksum: checksum)
    }

    /// Typed ingest with the offer cycle of a real scheduler: `MesosScheduler` subscribes and reads the stream,
    /// and each OFFERS event is declined (refuse 0 s, so that the master offers the resources again) through
    /// `MesosScheduler.decline`, with at most `inFlight` declines outstanding: when that many are, the consumer
    /// waits for one to be answered before it reads on. Megabytes count the response body bytes after
    /// SUBSCRIBED.
    static func typedDeclining(
        master: URL,
        transport: any MesosTransport,
        contentType: MesosContentType,
        events: Int,
        inFlight: Int,
        decodingConcurrency: Int = MesosSchedulerConfiguration.defaultDecodingConcurrency
    ) async throws -> IngestResult {
        let received = Counter()
        let declineErrors = Counter()
        let scheduler = try Self.scheduler(
            master: master, transport: CountingTransport(base: transport, counter: received), contentType: contentType,
            maximumCallsInFlight: inFlight, decodingConcurrency: decodingConcurrency)
        let stream = scheduler.events
        let clock = ContinuousClock()
        let result = try await withThrowingTaskGroup(of: IngestResult?.self) { group in
            group.addTask {
                try await scheduler.run()
                return nil
            }
            group.addTask {
                var count = 0
                var checksum = 0.0
                var start = clock.now
                var end = clock.now
                var bytesAtStart = 0
                var bytesAtEnd = 0
                try await withThrowingTaskGroup(of: Void.self) { declines in
                    var outstanding = 0
                    for try await event in stream {
                        switch event {
                        case .subscribed:
                            start = clock.now
                            bytesAtStart = received.value.load(ordering: .relaxed)
                        case .offers(let offers):
                            checksum += Self.touch(offers)
                            count += 1
                            if outstanding == inFlight {
                                try await declines.next()
                                outstanding -= 1
                            }
                            let ids = offers.map(\.id)
                            declines.addTask {
                                do {
                                    try await scheduler.decline(ids, filters: .refuse(seconds: 0))
                                } catch {
                                    declineErrors.value.add(1, ordering: .relaxed)
                                }
                            }
                            outstanding += 1
                        case .error(let message):
                            throw BenchError("The master sent ERROR: \(message)")
                        default:
                            break
                        }
                        if count == events { break }
                    }
                    end = clock.now
                    bytesAtEnd = received.value.load(ordering: .relaxed)
                }
                return IngestResult(
                    events: count, bytes: bytesAtEnd - bytesAtStart, seconds: Self.seconds(end - start), checksum: checksum)
            }
            defer {
                scheduler.disconnect()
                group.cancelAll()
            }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw BenchError("The scheduler stopped before \(events) OFFERS events")
        }
        let errors = declineErrors.value.load(ordering: .relaxed)
        if errors > 0 {
            say("decline_errors=\(errors)")
        }
        return result
    }

    /// What a consumer does with each offer: reads its ids, hostname and resources.
    static func touch(_ offers: [Offer]) -> Double {
        var sum = 0.0
        for offer in offers {
            sum += Double(offer.id.value.utf8.count + offer.hostname.utf8.count)
            for resource in offer.resources {
                sum += resource.scalar.value
            }
        }
        return sum
    }

    static func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }

    /// A scheduler service for `master`.
    static func scheduler(
        master: URL,
        transport: any MesosTransport,
        contentType: MesosContentType,
        maximumCallsInFlight: Int? = nil,
        decodingConcurrency: Int = MesosSchedulerConfiguration.defaultDecodingConcurrency
    ) throws -> MesosScheduler {
        guard let host = master.host, let port = master.port ?? (master.scheme == "https" ? 443 : 80) as Int? else {
            throw BenchError("Cannot read host and port from \(master)")
        }
        var info = FrameworkInfo()
        info.user = "root"
        info.name = "mesos-bench"
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: .fixed(MasterLocation(scheme: master.scheme ?? "http", host: host, port: port)),
            transport: transport
        )
        configuration.contentType = contentType
        // A master URL with a path (the local server's /offers) puts the scheduler endpoint under it.
        let prefix = master.path.hasSuffix("/") ? String(master.path.dropLast()) : master.path
        configuration.schedulerPath = prefix + "/api/v1/scheduler"
        configuration.maximumSubscriptionAttempts = 3
        configuration.decodingConcurrency = decodingConcurrency
        if let maximumCallsInFlight {
            configuration.maximumCallsInFlight = maximumCallsInFlight
        }
        return MesosScheduler(configuration: configuration)
    }

    /// Runs `body` while `scheduler` is subscribed. Events are handed to `consume` (or drained).
    static func whileSubscribed<Result: Sendable>(
        _ scheduler: MesosScheduler,
        consume: @escaping @Sendable (SchedulerEvent) async -> Bool = { _ in true },
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let lifecycle = scheduler.lifecycleEvents()
        let events = scheduler.events
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                try await scheduler.run()
                return nil
            }
            group.addTask {
                for try await event in events {
                    if await !consume(event) { break }
                }
                return nil
            }
            group.addTask {
                for await event in lifecycle {
                    switch event {
                    case .subscribed: return try await body()
                    case .failed(let error): throw error
                    case .stopped: throw BenchError("The scheduler stopped before subscribing")
                    default: continue
                    }
                }
                throw BenchError("The scheduler stopped before subscribing")
            }
            defer {
                scheduler.disconnect()
                group.cancelAll()
            }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw BenchError("The scheduler stopped")
        }
    }

    /// Sends `calls` ACKNOWLEDGE calls (random version-4 uuids, made-up agent and task ids) with `concurrency`
    /// in flight through a subscribed scheduler. A call counts as 202 when `send` returns normally.
    static func calls(
        scheduler: MesosScheduler,
        calls: Int,
        concurrency: Int,
        executor: CallExecutor = .default
    ) async throws -> CallsResult {
        // Each worker's ACKNOWLEDGE is built before the clock starts, as wrk's body is: what is timed is the
        // library's work per call (validation, framework id, encoding, headers, the exchange), not the benchmark's.
        let prepared = Self.acknowledgements(workers: concurrency, frameworkID: nil)
        return try await Self.whileSubscribed(scheduler) {
            await Self.runCalls(
                calls, concurrency: concurrency, executor: executor.resolve(scheduler.configuration.transport)
            ) { worker in
                let call = prepared[worker]
                do {
                    try await scheduler.send(call)
                    return nil
                } catch {
                    return "\(error)"
                }
            }
        }
    }

    /// The same ACKNOWLEDGE calls sent straight through the transport (no scheduler service), on a stream
    /// subscribed through the same transport: separates the transport's cost from the service's.
    static func callsDirect(
        transport: any MesosTransport,
        master: URL,
        contentType: MesosContentType,
        calls: Int,
        concurrency: Int,
        executor: CallExecutor = .default
    ) async throws -> CallsResult {
        let url = master.appendingPathComponent("api/v1/scheduler")
        let (streamID, frameworkID, reader) = try await Self.subscribeDirect(transport: transport, url: url, contentType: contentType)
        defer { reader.cancel() }
        let codec = MesosCodec(contentType)
        let prepared = Self.acknowledgements(workers: concurrency, frameworkID: frameworkID)
        return await Self.runCalls(calls, concurrency: concurrency, executor: executor.resolve(transport)) { worker in
            let call = prepared[worker]
            do {
                let request = MesosHTTPRequest(
                    url: url,
                    headers: ["Content-Type": contentType.mediaType, "Mesos-Stream-Id": streamID],
                    body: try codec.encode(call: call)
                )
                let (response, body) = try await transport.send(request)
                _ = try await body.collect(upTo: 1 << 16)
                return response.status == 202 ? nil : "status \(response.status)"
            } catch {
                return "\(error)"
            }
        }
    }

    /// Subscribes straight through `transport` and keeps reading the stream (offers, heartbeats) in a task until
    /// that task is cancelled; the stream id and framework id for the calls.
    static func subscribeDirect(
        transport: any MesosTransport, url: URL, contentType: MesosContentType
    ) async throws -> (streamID: String, frameworkID: FrameworkID, reader: Task<Void, Never>) {
        let (response, body) = try await transport.send(try Self.subscribeRequest(url: url, contentType: contentType))
        guard response.status == 200, let streamID = response.headers["Mesos-Stream-Id"] else {
            throw BenchError("SUBSCRIBE answered \(response.status)")
        }
        var records = body.recordIORecords().makeAsyncIterator()
        guard let first = try await records.next(), case .subscribed(let subscribed) = try MesosCodec(contentType).decodeEvent(first) else {
            throw BenchError("The stream did not start with SUBSCRIBED")
        }
        let reader = Task { [records] in
            var records = records
            while (try? await records.next()) != nil {}
        }
        return (streamID, subscribed.frameworkID, reader)
    }

    /// A reference for the calls (``RawSocketCalls``, ``NIOCodecCalls``): the same ACKNOWLEDGEs, one prebuilt body
    /// per worker, on a stream subscribed through `transport`. Plain `http` masters only (`name` is the mode, for
    /// the error).
    static func callsReference(
        _ name: String,
        _ reference: (ReferenceCalls) async throws -> CallsResult,
        transport: any MesosTransport, master: URL, contentType: MesosContentType, calls: Int, concurrency: Int
    ) async throws -> CallsResult {
        guard master.scheme == "http", let host = master.host else {
            throw BenchError("--via \(name) needs an http:// master with a host (no TLS)")
        }
        let url = master.appendingPathComponent("api/v1/scheduler")
        let (streamID, frameworkID, reader) = try await Self.subscribeDirect(transport: transport, url: url, contentType: contentType)
        defer { reader.cancel() }
        let codec = MesosCodec(contentType)
        let bodies = try Self.acknowledgements(workers: max(1, concurrency), frameworkID: frameworkID).map { try codec.encode(call: $0) }
        return try await reference(
            ReferenceCalls(
                host: host, port: master.port ?? 80, path: url.path, streamID: streamID, contentType: contentType,
                bodies: bodies, calls: calls))
    }

    /// Sends `calls` calls from `concurrency` workers and times them. `send(worker)` returns nil for a 202, or
    /// what went wrong. The workers run on `executor` when one is given (the transport's own thread).
    static func runCalls(
        _ calls: Int,
        concurrency: Int,
        executor: (any TaskExecutor)?,
        send: @escaping @Sendable (Int) async -> String?
    ) async -> CallsResult {
        let next = Counter()
        let clock = ContinuousClock()
        let start = clock.now
        let (accepted, errors, firstError) = await withTaskGroup(of: (Int, Int, String?).self) { group in
            for worker in 0..<max(1, concurrency) {
                group.addTask(executorPreference: executor) {
                    var accepted = 0
                    var errors = 0
                    var firstError: String?
                    while next.value.add(1, ordering: .relaxed).oldValue < calls {
                        if let failure = await send(worker) {
                            errors += 1
                            if firstError == nil { firstError = failure }
                        } else {
                            accepted += 1
                        }
                    }
                    return (accepted, errors, firstError)
                }
            }
            var total = (0, 0, String?.none)
            for await partial in group {
                total.0 += partial.0
                total.1 += partial.1
                total.2 = total.2 ?? partial.2
            }
            return total
        }
        return CallsResult(
            calls: calls, accepted: accepted, errors: errors, seconds: Self.seconds(clock.now - start),
            firstError: firstError)
    }

    /// 16 random bytes that form a valid version-4 UUID (Mesos rejects other version nibbles).
    /// One ACKNOWLEDGE per worker (its own agent and task id and a random uuid), built before timing.
    static func acknowledgements(workers: Int, frameworkID: FrameworkID?) -> [SchedulerCall] {
        (0..<max(1, workers)).map { worker in
            SchedulerCall.acknowledge(
                agentID: AgentID.with { $0.value = "bench-agent-\(worker)" },
                taskID: TaskID.with { $0.value = "bench-task-\(worker)" },
                uuid: Self.randomUUID(),
                frameworkID: frameworkID
            )
        }
    }

    static func randomUUID() -> Data {
        var random = SystemRandomNumberGenerator()
        let (high, low) = (random.next() as UInt64, random.next() as UInt64)
        var bytes = (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? high : low) >> (UInt64($0 % 8) * 8)) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return Data(bytes)
    }

    /// CPU used by this process while `scheduler` stays subscribed with nothing arriving, as a percentage
    /// of one core over `seconds`.
    static func idleCPU(scheduler: MesosScheduler, seconds: Int) async throws -> Double {
        try await Self.whileSubscribed(scheduler) {
            try await Task.sleep(for: .milliseconds(500))
            guard let before = ProcessStats.cpuSeconds() else { throw BenchError("/proc/self/stat is unreadable") }
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: .seconds(seconds))
            guard let after = ProcessStats.cpuSeconds() else { throw BenchError("/proc/self/stat is unreadable") }
            return (after - before) / Self.seconds(clock.now - start) * 100
        }
    }
}

/// A shared atomic counter.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// What a reference of `calls` sends: `calls` ACKNOWLEDGEs in all, one prebuilt body per worker, to a plain
/// `http` master.
struct ReferenceCalls: Sendable {
    var host: String
    var port: Int
    /// The scheduler endpoint's path.
    var path: String
    var streamID: String
    var contentType: MesosContentType
    var bodies: [[UInt8]]
    var calls: Int
}

/// A failure of the benchmark itself.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where the calls benchmark's workers run.
enum CallExecutor: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// The global concurrent executor (the cooperative pool), as ordinary tasks run.
    case `default`
    /// The transport's own I/O thread (`MesosTransport.taskExecutor`), where the transport has one.
    case transport

    /// The executor to prefer for the workers, `nil` for the default.
    func resolve(_ transport: any MesosTransport) -> (any TaskExecutor)? {
        self == .transport ? transport.taskExecutor : nil
    }
}

/// A transport that counts the bytes of every response body it hands out.
struct CountingTransport: MesosTransport {
    let base: any MesosTransport
    let counter: Counter

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let (response, body) = try await self.base.send(request)
        let counter = self.counter
        return (response, MesosResponseBody(body.map { chunk in
            counter.value.add(chunk.count, ordering: .relaxed)
            return chunk
        }))
    }
}
