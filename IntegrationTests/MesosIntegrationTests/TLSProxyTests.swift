import Foundation
import MesosCore
import MesosCurlTransport
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// The TLS reverse proxy `scripts/tls-proxy.sh` starts in front of the real master (nginx with a private CA),
/// the way DC/OS's Admin Router and company ingresses expose Mesos: `https://localhost:A` serves the master at
/// `/` and under `/mesos/` (prefix stripped); `https://localhost:B` does the same but requires a client
/// certificate signed by the private CA.
struct TLSProxy: Sendable {
    /// The variables `scripts/tls-proxy.sh` writes, the proxy's URL first (it names a missing proxy).
    static let variables = [
        "MESOS_TLS_PROXY_URL", "MESOS_TLS_PROXY_MTLS_URL", "MESOS_TLS_PROXY_CA", "MESOS_TLS_CLIENT_CERT",
        "MESOS_TLS_CLIENT_KEY",
    ]

    /// Whether the proxy tests run: with the proxy's variables set, or always with `MESOS_REQUIRE_SERVERS=1`
    /// (they then fail in ``init()`` naming `MESOS_TLS_PROXY_URL`).
    static var shouldRun: Bool {
        TestServers.areRequired || Self.variables.allSatisfy { TestServers.optionalValue($0) != nil }
    }

    /// `https://localhost:A`: TLS, no client certificate needed.
    let url: String
    /// `https://localhost:B`: TLS, a client certificate signed by the private CA required.
    let mutualURL: String
    /// The private CA (PEM) that signed the proxy's server certificate and the client certificate.
    let caPath: String
    /// The client certificate (PEM) the mutual-TLS port accepts.
    let clientCertificatePath: String
    /// Its private key (PEM).
    let clientKeyPath: String

    /// Reads the proxy's variables.
    ///
    /// - Throws: `TestServers.Missing` for the first variable that is not set.
    init() throws {
        func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
        self.url = trimmed(try TestServers.value("MESOS_TLS_PROXY_URL"))
        self.mutualURL = trimmed(try TestServers.value("MESOS_TLS_PROXY_MTLS_URL"))
        self.caPath = try TestServers.value("MESOS_TLS_PROXY_CA")
        self.clientCertificatePath = try TestServers.value("MESOS_TLS_CLIENT_CERT")
        self.clientKeyPath = try TestServers.value("MESOS_TLS_CLIENT_KEY")
    }

    /// The two ports of the proxy.
    enum Port: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case tls
        case mutualTLS

        var testDescription: String { self == .tls ? "TLS port" : "mutual-TLS port" }
    }

    /// The base URL of `port`, with `prefix` (`""` or `"/mesos"`) appended.
    func base(_ port: Port, prefix: String = "") -> String {
        (port == .tls ? self.url : self.mutualURL) + prefix
    }

    /// TLS settings trusting the private CA, presenting the client certificate on the mutual-TLS port.
    func tls(for port: Port) -> MesosCurlTransport.Configuration.TLS {
        port == .tls
            ? .init(caBundlePath: self.caPath)
            : .init(caBundlePath: self.caPath, clientCertificatePath: self.clientCertificatePath,
                    clientKeyPath: self.clientKeyPath)
    }

    /// A curl transport with `tls`.
    static func transport(_ tls: MesosCurlTransport.Configuration.TLS) -> MesosCurlTransport {
        MesosCurlTransport(configuration: .init(connectTimeout: .seconds(10), tls: tls))
    }
}

/// The proxy path proven with the library alone (the curl transport's TLS settings), independently of the tools:
/// plain requests, a whole SUBSCRIBE stream with calls carrying `Mesos-Stream-Id`, and a scheduler running a task.
@Suite("TLS reverse proxy: the library through it", .enabled(if: TLSProxy.shouldRun, "needs scripts/tls-proxy.sh (MESOS_TLS_PROXY_URL …)"),
       .serialized, .timeLimit(.minutes(3)))
struct TLSProxyTests {
    let proxy: TLSProxy

    init() throws {
        self.proxy = try TLSProxy()
    }

    @Test("GET /version reaches the master at / and under /mesos/, on both ports, trusting the private CA",
          arguments: TLSProxy.Port.allCases, ["", "/mesos"])
    func version(port: TLSProxy.Port, prefix: String) async throws {
        let transport = TLSProxy.transport(self.proxy.tls(for: port))
        let url = try #require(URL(string: self.proxy.base(port, prefix: prefix) + "/version"))
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(15)))
        let bytes = try await body.collect(upTo: 1 << 20)
        #expect(response.status == 200, "\(String(decoding: bytes, as: UTF8.self))")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["version"] as? String == "1.11.0")
    }

    @Test("without the private CA the proxy's certificate is refused: tlsVerificationFailed, naming the certificate, not temporary")
    func unknownCARefused() async throws {
        let transport = TLSProxy.transport(.init())
        let url = try #require(URL(string: self.proxy.url + "/version"))
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(15)))
        }
        #expect(error?.code == .tlsVerificationFailed, "\(String(describing: error))")
        #expect(error?.isTemporary == false)
        #expect(error?.message.lowercased().contains("certificate") == true, "\(String(describing: error))")
    }

    @Test("verification turned off reaches the master without the CA, and the transport warns exactly once")
    func verificationOffWarns() async throws {
        final class Warnings: Sendable {
            let list = Mutex<[String]>([])
        }
        let warnings = Warnings()
        let transport = MesosCurlTransport(configuration: .init(tls: .init(verifyPeer: false))) { warning in
            warnings.list.withLock { $0.append(warning) }
        }
        let url = try #require(URL(string: self.proxy.url + "/mesos/version"))
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(15)))
        _ = try await body.collect(upTo: 1 << 20)
        #expect(response.status == 200)
        let seen = warnings.list.withLock { $0 }
        #expect(seen.count == 1)
        #expect(seen.first?.contains("verification is disabled") == true)
    }

    @Test("the mutual-TLS port answers 400 without a client certificate and 200 with the private CA's one")
    func clientCertificateRequired() async throws {
        let url = try #require(URL(string: self.proxy.mutualURL + "/mesos/version"))
        let request = MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(15))
        let anonymous = TLSProxy.transport(.init(caBundlePath: self.proxy.caPath))
        let (refused, refusedBody) = try await anonymous.send(request)
        let refusal = String(decoding: try await refusedBody.collect(upTo: 1 << 20), as: UTF8.self)
        #expect(refused.status == 400)
        #expect(refusal.contains("No required SSL certificate was sent"), "\(refusal)")

        let identified = TLSProxy.transport(self.proxy.tls(for: .mutualTLS))
        let (accepted, acceptedBody) = try await identified.send(request)
        _ = try await acceptedBody.collect(upTo: 1 << 20)
        #expect(accepted.status == 200)
    }

    @Test("SUBSCRIBE streams through the proxy: SUBSCRIBED, HEARTBEAT, OFFERS as they come; calls with Mesos-Stream-Id reach the master; TEARDOWN ends the stream",
          arguments: [(TLSProxy.Port.tls, "/mesos", MesosContentType.json), (.tls, "", .protobuf),
                      (.mutualTLS, "/mesos", .protobuf), (.mutualTLS, "", .json)])
    func subscribeStream(port: TLSProxy.Port, prefix: String, contentType: MesosContentType) async throws {
        let transport = TLSProxy.transport(self.proxy.tls(for: port))
        let endpoint = try #require(URL(string: self.proxy.base(port, prefix: prefix) + "/api/v1/scheduler"))
        let codec = MesosCodec(contentType)
        let headers: MesosHTTPHeaders = ["Content-Type": contentType.mediaType, "Accept": contentType.mediaType]
        func post(_ call: SchedulerCall, streamID: String) async throws -> (Int, String) {
            var callHeaders = headers
            callHeaders.add(name: "Mesos-Stream-Id", value: streamID)
            let (response, body) = try await transport.send(
                MesosHTTPRequest(url: endpoint, headers: callHeaders, body: try codec.encode(call), timeout: .seconds(15)))
            return (response.status, String(decoding: try await body.collect(upTo: 1 << 20), as: UTF8.self))
        }

        let subscribe = SchedulerCall.subscribe(frameworkInfo: RealMaster.frameworkInfo(name: "tls-proxy-\(port)-\(contentType)"))
        let (response, body) = try await transport.send(
            MesosHTTPRequest(url: endpoint, headers: headers, body: try codec.encode(subscribe), idleTimeout: .seconds(20)))
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == contentType.mediaType)
        let streamID = try #require(response.headers["Mesos-Stream-Id"])
        #expect(streamID.count == 36)

        // The events arrive while the stream stays open: the proxy does not buffer the chunked body.
        var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
        var frameworkID: FrameworkID?
        var sawHeartbeat = false
        var offers: [Offer] = []
        while frameworkID == nil || !sawHeartbeat || offers.isEmpty {
            guard let event = try await events.next() else {
                Issue.record("the stream ended before SUBSCRIBED, HEARTBEAT and OFFERS")
                return
            }
            switch event {
            case .subscribed(let subscribed):
                #expect(frameworkID == nil)
                frameworkID = subscribed.frameworkID
                #expect(subscribed.masterInfo.version == "1.11.0")
            case .heartbeat:
                sawHeartbeat = true
            case .offers(let received):
                offers += received
            default:
                continue
            }
        }
        let id = try #require(frameworkID)
        #expect(offers.allSatisfy { $0.frameworkID == id })

        // Request headers pass through: the right stream id is accepted, a wrong one is refused by the master.
        let (declined, _) = try await post(.decline(offerIDs: offers.map(\.id), filters: .refuse(seconds: 1), frameworkID: id),
                                           streamID: streamID)
        #expect(declined == 202)
        let (stale, staleBody) = try await post(.revive(frameworkID: id), streamID: UUID().uuidString.lowercased())
        #expect(MesosError.httpStatus(stale, body: staleBody).code == .streamIDMismatch, "\(stale): \(staleBody)")
        let (tornDown, _) = try await post(.teardown(frameworkID: id), streamID: streamID)
        #expect(tornDown == 202)

        // The master closes the stream of a framework it removed; the proxy passes the end on.
        while try await events.next() != nil {}
    }

    @Test("a scheduler on the curl transport runs echo hi to TASK_FINISHED through the proxy, at the root and under /mesos",
          arguments: [(TLSProxy.Port.tls, ""), (.mutualTLS, "/mesos")])
    func schedulerRunsTask(port: TLSProxy.Port, prefix: String) async throws {
        let base = try #require(URL(string: self.proxy.base(port)))
        let location = MasterLocation(scheme: "https", host: try #require(base.host), port: try #require(base.port),
                                      pathPrefix: prefix)
        #expect(location.schedulerURL.absoluteString == self.proxy.base(port, prefix: prefix) + "/api/v1/scheduler")
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: RealMaster.frameworkInfo(name: "tls-proxy-scheduler-\(port)"),
            master: .fixed(location),
            transport: TLSProxy.transport(self.proxy.tls(for: port))
        )
        configuration.contentType = .protobuf
        let scheduler = MesosScheduler(configuration: configuration)
        let statuses = try await scheduler.withSubscription { events in
            let statuses = try await RealMasterSchedulerTests.run("echo hi", on: scheduler, events: events)
            try await scheduler.teardown()
            return statuses
        }
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
        #expect(statuses.last?.message == "Command exited with status 0")
    }
}

/// `mesos-execute` through the proxy with the tools' TLS options (`--ca-file`, `--cert`/`--key`, `--insecure`)
/// and a master URL with a path prefix, as a DC/OS user runs it.
@Suite("TLS reverse proxy: mesos-execute through it", .enabled(if: ToolProcess.binary != nil, "mesos-execute is not built next to the tests"),
       .enabled(if: TLSProxy.shouldRun, "needs scripts/tls-proxy.sh (MESOS_TLS_PROXY_URL …)"),
       .serialized, .timeLimit(.minutes(3)))
struct TLSProxyToolTests {
    let proxy: TLSProxy

    init() throws {
        self.proxy = try TLSProxy()
    }

    /// The lines of a tool's output, split at every line break: `\r\n` too (a proxy's HTML error page has them,
    /// and Swift takes `\r\n` as one `Character`, which `split(separator: "\n")` does not split at).
    static func lines(_ text: String) -> [Substring] {
        text.split(whereSeparator: \.isNewline)
    }

    @Test(
        "--ca-file: echo hi exits 0 with TASK_FINISHED, under /mesos and at the root, on curl and on NIO",
        arguments: ["/mesos", ""], ["curl", "nio"])
    func trustedCAFinishes(prefix: String, transport: String) async throws {
        let result = try await ToolProcess.run([
            "--master", self.proxy.url + prefix, "--ca-file", self.proxy.caPath, "--transport", transport, "--command", "echo hi",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("TASK_FINISHED: Command exited with status 0"), "\(result.stdout)")
    }

    @Test("without --ca-file: one line naming the certificate verification problem, non-zero", arguments: ["curl", "nio"])
    func untrustedCAFails(transport: String) async throws {
        let result = try await ToolProcess.run(
            ["--master", self.proxy.url + "/mesos", "--transport", transport, "--command", "echo hi"], timeout: .seconds(60))
        #expect(result.status != 0)
        #expect(Self.lines(result.stderr).count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("mesos-execute: error: "))
        #expect(result.stderr.lowercased().contains("certificate"), "\(result.stderr)")
        #expect(!result.stdout.contains("TASK_"))
    }

    @Test("--insecure without --ca-file: finishes, and standard error warns that verification is skipped")
    func insecureWarnsAndFinishes() async throws {
        let result = try await ToolProcess.run([
            "--master", self.proxy.url + "/mesos", "--insecure", "--transport", "curl", "--command", "echo hi",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("TASK_FINISHED"))
        // One warning (the tool's; the transport's own is not repeated), on this and every start.
        #expect(Self.lines(result.stderr).filter { $0.lowercased().contains("verif") }.count == 1, "\(result.stderr)")
    }

    @Test("the mutual-TLS port: without --cert/--key one line and non-zero; with them TASK_FINISHED")
    func clientCertificate() async throws {
        let master = self.proxy.mutualURL + "/mesos"
        let refused = try await ToolProcess.run(
            ["--master", master, "--ca-file", self.proxy.caPath, "--transport", "curl", "--command", "echo hi"],
            timeout: .seconds(60))
        #expect(refused.status != 0)
        #expect(Self.lines(refused.stderr).count == 1, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("mesos-execute: error: "))
        // nginx refuses with "400 No required SSL certificate was sent": the line must say what is missing.
        #expect(refused.stderr.lowercased().contains("certificate"), "\(refused.stderr)")

        for transport in ["curl", "nio"] {
            let accepted = try await ToolProcess.run([
                "--master", master, "--ca-file", self.proxy.caPath, "--cert", self.proxy.clientCertificatePath,
                "--key", self.proxy.clientKeyPath, "--transport", transport, "--command", "echo hi",
            ])
            #expect(accepted.status == 0, "\(transport): \(accepted.stderr)")
            #expect(accepted.stdout.contains("TASK_FINISHED: Command exited with status 0"), "\(transport): \(accepted.stdout)")
        }
    }
}
