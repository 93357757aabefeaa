import ArgumentParser
import Foundation
import MesosCore
import MesosToolSupport
import MesosScheduler

/// `mesos-bench`: with no subcommand, the self-contained run (`local`).
struct MesosBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesos-bench",
        abstract: "Throughput, latency, memory and idle-CPU benchmarks for swift-mesos.",
        subcommands: [
            LocalRun.self, Ingest.self, Calls.self, Decode.self, Serve.self, Place.self, RuntimeRun.self,
            ExecutorFootprint.self, OperatorBench.self,
        ],
        defaultSubcommand: LocalRun.self
    )
}

/// A benchmark mode; `main.swift` runs it (this avoids ArgumentParser's sync/async `run()` overloads
/// resolving to the synchronous default that only prints help).
protocol BenchMode: AsyncParsableCommand {
    /// Runs the mode.
    func runBenchmark() async throws
}

extension BenchMode {
    func run() async throws {
        try await self.runBenchmark()
    }
}

extension TransportKind: ExpressibleByArgument {
    /// The tools' default transport (``ToolTransportKind/platformDefault``: nio on Linux, curl elsewhere).
    static var platformDefault: TransportKind {
        TransportKind(rawValue: ToolTransportKind.platformDefault.rawValue) ?? .curl
    }

    /// The same transport as the tools name it, for a remote master with the TLS options.
    var toolKind: ToolTransportKind {
        switch self {
        case .curl: return .curl
        case .urlsession: return .urlsession
        case .nio: return .nio
        }
    }
}

/// How the `calls` mode sends its calls.
enum CallPath: String, ExpressibleByArgument, Sendable {
    /// `MesosScheduler.send`: the library as an application uses it.
    case scheduler
    /// `MesosTransport.send` directly.
    case transport
    /// Prebuilt bytes on blocking sockets, no library per call: the reference (``RawSocketCalls``).
    case socket
    /// NIO's HTTP/1.1 codecs alone, driven on the event loop: the best a transport on them could do
    /// (``NIOCodecCalls``).
    case nioCodecs = "nio-codecs"
}

extension MesosContentType: ExpressibleByArgument {
    /// Parses `json` or `protobuf` (or a media type) from the command line.
    public init?(argument: String) {
        self.init(name: argument)
    }
}

/// Prints a target line: the figure, the threshold and met / not met.
func target(_ name: String, _ met: Bool, _ detail: String) {
    say("  target \(name): \(detail) -> \(met ? "met" : "not met")")
}

/// The self-contained run against a local HTTP server on 127.0.0.1.
struct LocalRun: BenchMode {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Self-contained run: a local server streams prebuilt OFFERS events and answers calls."
    )

    @Option(help: "OFFERS events per ingest measurement.")
    var events = 100_000

    @Option(help: "ACKNOWLEDGE calls per calls measurement.")
    var calls = 20_000

    @Option(help: "Seconds of idle CPU measurement per transport.")
    var idleSeconds = 10

    @Option(help: "Transport for ingest and calls: curl, urlsession or nio (default: nio on Linux, curl elsewhere).")
    var transport: TransportKind = .platformDefault

    @Option(help: "Comma-separated parts to run: json, protobuf, calls, idle (default: all).")
    var parts = "json,protobuf,calls,idle"

    @Option(help: "Helper tasks decoding large batches beside the reading task in the typed ingest run, as MesosScheduler reads (its default: cores − 1, at most 3; 0 on two cores or fewer); 0 decodes on the reading task alone.")
    var decodingConcurrency = MesosSchedulerConfiguration.defaultDecodingConcurrency

    @Flag(help: "After the RSS figure, list the mappings holding the most resident memory.")
    var showMappings = false

    @Flag(help: "Run the local server inside this process (by default it runs in a child process, so that the peak RSS is the client's alone).")
    var inProcessServer = false

    func runBenchmark() async throws {
        let payloads = try BenchPayloads.make()
        let server: any BenchServer =
            self.inProcessServer ? try await LocalMaster.start(payloads: payloads) : try ChildServer.start()
        say(
            "mesos-bench local: server http://127.0.0.1:\(server.port) (\(self.inProcessServer ? "in this process" : "child process")), "
                + "transport \(self.transport.rawValue)")
        say(
            "payload: offers_event_json_bytes=\(payloads.offersJSON.count) "
                + "offers_event_protobuf_bytes=\(payloads.offersProtobuf.count) offers_per_event=4"
        )
        let streamURL = server.baseURL.appendingPathComponent("stream/api/v1/scheduler")
        let transport = self.transport.make()

        // Warm up the connection path and the decoders.
        _ = try await Measure.typed(transport: transport, url: streamURL, contentType: .json, events: 2_000)
        _ = try await Measure.typed(transport: transport, url: streamURL, contentType: .protobuf, events: 2_000)

        let parts = Set(self.parts.split(separator: ",").map(String.init))
        var typedPeaks: [Double] = []
        for (contentType, goal) in [(MesosContentType.json, 100_000.0), (.protobuf, 200_000.0)]
        where parts.contains(contentType == .json ? "json" : "protobuf") {
            let floor = try await Measure.floor(
                transport: transport, url: streamURL, contentType: contentType, events: self.events)
            let sequential = try await Measure.typed(
                transport: transport, url: streamURL, contentType: contentType, events: self.events)
            ProcessStats.resetPeak()
            let typed = try await Measure.typed(
                transport: transport, url: streamURL, contentType: contentType, events: self.events,
                decodingConcurrency: self.decodingConcurrency > 0 ? self.decodingConcurrency : nil)
            let typedPeak = ProcessStats.peakRSSMegabytes() ?? .nan
            typedPeaks.append(typedPeak)
            let name = contentType == .json ? "json" : "protobuf"
            say(
                "floor \(name): events_per_s=\(fmt(floor.eventsPerSecond, 0)) mb_per_s=\(fmt(floor.megabytesPerSecond)) "
                    + "(transport + RecordIO framing, no decoding; \(floor.events) events)"
            )
            say(
                "typed \(name), decoded on the reading task: events_per_s=\(fmt(sequential.eventsPerSecond, 0)) "
                    + "ratio_to_floor=\(fmt(sequential.eventsPerSecond / floor.eventsPerSecond, 3)) (\(sequential.events) events)"
            )
            say(
                "typed \(name): events_per_s=\(fmt(typed.eventsPerSecond, 0)) mb_per_s=\(fmt(typed.megabytesPerSecond)) "
                    + "ratio_to_floor=\(fmt(typed.eventsPerSecond / floor.eventsPerSecond, 3)) "
                    + "(schedulerEvents with decodingConcurrency=\(self.decodingConcurrency), as MesosScheduler reads; "
                    + "\(typed.events) events) peak_rss_mb=\(fmt(typedPeak))"
            )
            if contentType == .json {
                let generic = try await Measure.typed(
                    transport: transport, url: streamURL, contentType: contentType, events: self.events / 4,
                    genericDecoder: true)
                say(
                    "typed json via swift-protobuf's JSON decoder only (before the fast path): "
                        + "events_per_s=\(fmt(generic.eventsPerSecond, 0)) "
                        + "ratio_to_floor=\(fmt(generic.eventsPerSecond / floor.eventsPerSecond, 3)) (\(generic.events) events)"
                )
            }
            target(
                "typed \(name) ingest >= \(Int(goal)) events/s", typed.eventsPerSecond >= goal,
                fmt(typed.eventsPerSecond, 0))
        }

        for concurrency in [1, 16] where parts.contains("calls") {
            for executor in CallExecutor.allCases where executor == .default || transport.taskExecutor != nil {
                let scheduler = try Measure.scheduler(master: server.baseURL, transport: transport, contentType: .protobuf)
                let result = try await Measure.calls(
                    scheduler: scheduler, calls: self.calls, concurrency: concurrency, executor: executor)
                say(
                    "calls concurrency=\(concurrency) executor=\(executor.rawValue): "
                        + "calls_per_s=\(fmt(result.callsPerSecond, 0)) "
                        + "status_202=\(result.accepted) errors=\(result.errors)"
                        + (result.firstError.map { " first_error=\($0)" } ?? "")
                )
            }
        }
        if parts.contains("calls") {
            say("  (the wrk reference targets need a real master: use `mesos-bench calls --master URL` and wrk)")
        }

        // The peak while the scheduler's own read path ingests (the typed runs above), else over the whole run.
        let peak = typedPeaks.max() ?? ProcessStats.peakRSSMegabytes() ?? .nan
        let now = ProcessStats.currentRSSMegabytes()
        say(
            "peak_rss_mb=\(fmt(peak)) (VmHWM during the typed ingest runs; now: rss_mb=\(fmt(now?.total ?? .nan)) "
                + "anonymous_mb=\(fmt(now?.anonymous ?? .nan)) file_backed_mb=\(fmt(now?.file ?? .nan)))"
        )
        if self.showMappings {
            for mapping in ProcessStats.largestMappings(12) {
                say("  rss_kib=\(mapping.kilobytes) \(mapping.name)")
            }
        }
        target("peak RSS < 40 MB", peak < 40, fmt(peak) + (self.inProcessServer ? " (server included)" : " (client alone)"))

        for kind in TransportKind.allCases where parts.contains("idle") {
            let scheduler = try Measure.scheduler(master: server.baseURL, transport: kind.make(), contentType: .protobuf)
            let percent = try await Measure.idleCPU(scheduler: scheduler, seconds: self.idleSeconds)
            say("idle \(kind.rawValue): cpu_percent_of_one_core=\(fmt(percent, 2)) over \(self.idleSeconds) s")
            if kind != .urlsession {
                target("idle \(kind.rawValue) < 1% of a core", percent < 1, fmt(percent, 2) + "%")
            }
        }
        await server.shutdown()
    }
}

/// `ingest`: typed events from a real master.
struct Ingest: BenchMode {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to a master and consume N OFFERS events (with --decline, decline each through MesosScheduler)."
    )

    @Option(help: "The master, e.g. http://127.0.0.1:5050 (or https://proxy:8443/mesos with the TLS options).")
    var master: String

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    @Option(help: "OFFERS events to consume.")
    var events: Int

    @Option(help: "json or protobuf.")
    var contentType: MesosContentType = .protobuf

    @Option(help: "curl, urlsession or nio (default: nio on Linux, curl elsewhere).")
    var transport: TransportKind = .platformDefault

    @Flag(help: "Run the offer cycle of a real scheduler: subscribe through MesosScheduler and decline each OFFERS event (refuse 0 s) through its call path, with at most --in-flight declines outstanding.")
    var decline = false

    @Option(help: "With --decline: the most DECLINE calls outstanding at once (also MesosScheduler's maximumCallsInFlight).")
    var inFlight = 16

    @Option(help: "Helper tasks decoding large batches beside the reading task, as MesosScheduler reads its stream (its default: cores − 1, at most 3; 0 on two cores or fewer); 0 decodes on the reading task alone.")
    var decodingConcurrency = MesosSchedulerConfiguration.defaultDecodingConcurrency

    func runBenchmark() async throws {
        guard let base = URL(string: self.master) else { throw ValidationError("Bad --master \(self.master)") }
        guard self.inFlight >= 1 else { throw ValidationError("--in-flight must be at least 1") }
        let url = base.appendingPathComponent("api/v1/scheduler")
        let result: IngestResult
        if self.decline {
            result = try await Measure.typedDeclining(
                master: base, transport: try self.remoteTransport(), contentType: self.contentType, events: self.events,
                inFlight: self.inFlight, decodingConcurrency: self.decodingConcurrency)
        } else {
            // Consume only: the stream's events, decoded as MesosScheduler decodes them, no calls.
            result = try await Measure.typed(
                transport: try self.remoteTransport(), url: url, contentType: self.contentType, events: self.events,
                decodingConcurrency: self.decodingConcurrency > 0 ? self.decodingConcurrency : nil)
        }
        let peak = ProcessStats.peakRSSMegabytes() ?? .nan
        say(
            "events_per_s=\(fmt(result.eventsPerSecond)) mb_per_s=\(fmt(result.megabytesPerSecond, 3)) "
                + "peak_rss_mb=\(fmt(peak))"
        )
    }

    /// The transport for the master, with the TLS options (the benchmark does not log in: no DC/OS account).
    private func remoteTransport() throws -> any MesosTransport {
        guard self.security.serviceAccountFile == nil else {
            throw ValidationError("mesos-bench does not authenticate: --service-account-file is not supported here")
        }
        return try self.security.makeTransport(self.transport.toolKind)
    }
}

/// `calls`: ACKNOWLEDGE throughput against a real master.
struct Calls: BenchMode {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe, then send N ACKNOWLEDGE calls with C in flight through MesosScheduler."
    )

    @Option(help: "The master, e.g. http://127.0.0.1:5050 (or https://proxy:8443/mesos with the TLS options).")
    var master: String

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    @Option(help: "ACKNOWLEDGE calls to send.")
    var calls: Int

    @Option(help: "Calls in flight.")
    var concurrency = 1

    @Option(help: "json or protobuf.")
    var contentType: MesosContentType = .protobuf

    @Option(help: "curl, urlsession or nio (default: nio on Linux, curl elsewhere).")
    var transport: TransportKind = .platformDefault

    @Option(help: "scheduler (MesosScheduler.send, the default), transport (MesosTransport.send directly), socket (the reference: prebuilt request bytes on a blocking socket per worker, no library per call) or nio-codecs (NIO's HTTP codecs alone, driven on the event loop); the last two http only.")
    var via: CallPath = .scheduler

    @Option(help: "default (workers on the cooperative pool) or transport (on the transport's own thread).")
    var executor: CallExecutor = .default

    func runBenchmark() async throws {
        guard let base = URL(string: self.master) else { throw ValidationError("Bad --master \(self.master)") }
        if self.via == .socket || self.via == .nioCodecs {
            let result = try await Measure.callsReference(
                self.via.rawValue, self.via == .socket ? RawSocketCalls.run : NIOCodecCalls.run,
                transport: try self.remoteTransport(), master: base, contentType: self.contentType, calls: self.calls,
                concurrency: self.concurrency)
            if let error = result.firstError {
                say("first_error=\(error)")
            }
            say("calls_per_s=\(fmt(result.callsPerSecond)) status_202=\(result.accepted) errors=\(result.errors)")
            return
        }
        if self.via == .transport {
            let result = try await Measure.callsDirect(
                transport: try self.remoteTransport(), master: base, contentType: self.contentType, calls: self.calls,
                concurrency: self.concurrency, executor: self.executor)
            if let error = result.firstError {
                say("first_error=\(error)")
            }
            say("calls_per_s=\(fmt(result.callsPerSecond)) status_202=\(result.accepted) errors=\(result.errors)")
            return
        }
        let scheduler = try Measure.scheduler(master: base, transport: try self.remoteTransport(), contentType: self.contentType)
        let result = try await Measure.calls(
            scheduler: scheduler, calls: self.calls, concurrency: self.concurrency, executor: self.executor)
        if let error = result.firstError {
            say("first_error=\(error)")
        }
        say("calls_per_s=\(fmt(result.callsPerSecond)) status_202=\(result.accepted) errors=\(result.errors)")
    }

    /// The transport for the master, with the TLS options (the benchmark does not log in: no DC/OS account).
    private func remoteTransport() throws -> any MesosTransport {
        guard self.security.serviceAccountFile == nil else {
            throw ValidationError("mesos-bench does not authenticate: --service-account-file is not supported here")
        }
        return try self.security.makeTransport(self.transport.toolKind)
    }
}

/// `serve`: the local server alone, for `local`'s child process (prints `port=N`, runs until stdin closes).
struct Serve: BenchMode {
    static let configuration = CommandConfiguration(
        abstract: "Run only the local benchmark server; prints port=N, stops when standard input closes."
    )

    @Option(help: "The port on 127.0.0.1 (0: any free port).")
    var port = 0

    @Flag(help: "Stream OFFERS after SUBSCRIBED on /api/v1/scheduler too (not only under /offers/): for clients that cannot put a path before the endpoint, such as the Python peers of scripts/bench-peers.sh.")
    var offersOnSubscribe = false

    func runBenchmark() async throws {
        let server = try await LocalMaster.start(
            payloads: try BenchPayloads.make(), port: self.port, offersOnSubscribe: self.offersOnSubscribe)
        FileHandle.standardOutput.write(Data("port=\(server.port)\n".utf8))
        // Block a thread (not the cooperative pool) until the parent closes our stdin or goes away.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                while readLine() != nil {}
                done.resume()
            }
        }
        await server.shutdown()
    }
}

/// `decode`: the codec alone, on one thread, with no transport: stable figures for profiling the decoders.
struct Decode: BenchMode {
    static let configuration = CommandConfiguration(
        abstract: "Decode the prebuilt OFFERS event N times on one thread (no transport, no framing)."
    )

    @Option(help: "Events to decode.")
    var events = 200_000

    @Option(help: "json or protobuf.")
    var contentType: MesosContentType = .protobuf

    func runBenchmark() async throws {
        let payloads = try BenchPayloads.make()
        let record = (self.contentType == .json ? payloads.offersJSON : payloads.offersProtobuf)[...]
        let codec = MesosCodec(self.contentType)
        var touched = 0.0
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<max(1, self.events) {
            guard case .offers(let offers) = try codec.decodeEvent(record) else {
                throw BenchError("The prebuilt event did not decode as OFFERS")
            }
            touched += Measure.touch(offers)
        }
        let seconds = Measure.seconds(clock.now - start)
        let perSecond = Double(max(1, self.events)) / seconds
        say(
            "decode \(self.contentType): events_per_s=\(fmt(perSecond, 0)) us_per_event=\(fmt(1e6 / perSecond, 2)) "
                + "bytes_per_event=\(record.count) (checksum \(fmt(touched, 0)))"
        )
    }
}
