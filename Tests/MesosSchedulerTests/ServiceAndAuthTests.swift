import Crypto
import Foundation
import Logging
import MesosCore
import MesosDCOSAuth
import MesosScheduler
import MesosTestKit
import Metrics
import MetricsTestKit
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
import _CryptoExtras

@Suite("Scheduler as a Service, metrics, DC/OS auth", .timeLimit(.minutes(1)))
struct ServiceAndAuthTests {
    @Test("graceful shutdown of a ServiceGroup disconnects without tearing down")
    func gracefulShutdown() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await testGracefulShutdown { trigger in
            let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                _ = try await waitUntilSubscribed(scheduler)
                trigger.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
        #expect(scheduler.status.state == .unsubscribed)
        #expect(await master.frameworks.first?.isRemoved == false)
        try await master.waitUntil { $0.subscribedFrameworkIDs.isEmpty }
    }

    @Test("metrics count events by type, calls by type and status, and reconnects")
    func metrics() async throws {
        let metrics = sharedTestMetrics
        let master = makeMaster()
        await master.inject(.cutMidRecord(afterEvents: 2), matching: .subscribe)
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            try await master.waitUntil { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            _ = try await waitUntilSubscribed(scheduler)
            try await scheduler.revive()
        }
        // Other tests run in the same process and report too, so these are lower bounds.
        let subscribed = try metrics.expectCounter("mesos_scheduler_events_total", [("type", "SUBSCRIBED")])
        #expect(subscribed.totalValue >= 2)
        let calls = try metrics.expectCounter("mesos_scheduler_calls_total", [("type", "REVIVE"), ("status", "202")])
        #expect(calls.totalValue >= 1)
        let reconnects = metrics.counters.filter { $0.label == "mesos_scheduler_reconnects_total" }
        #expect(reconnects.map(\.totalValue).reduce(0, +) >= 1)
    }

    @Test("DC/OS service account: RS256 login verified by the endpoint, token on every request, re-login on 401")
    func dcosServiceAccount() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let publicKey = key.publicKey
        let master = makeMaster()
        let logins = Locked<Int>(0)
        await master.route("POST", "/acs/api/v1/auth/login") { request in
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String],
                  object["uid"] == "svc-batch", let jwt = object["token"] else {
                return .text(400, "bad login body")
            }
            let parts = jwt.split(separator: ".").map(String.init)
            guard parts.count == 3, let signature = Data(base64URL: parts[2]), let claims = Data(base64URL: parts[1]),
                  let claimObject = try? JSONSerialization.jsonObject(with: claims) as? [String: Any],
                  claimObject["uid"] as? String == "svc-batch",
                  let exp = claimObject["exp"] as? Int, exp > Int(Date().timeIntervalSince1970),
                  publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                             for: Data((parts[0] + "." + parts[1]).utf8), padding: .insecurePKCS1v1_5)
            else {
                return .text(401, "invalid login token")
            }
            let count = logins.withLock { $0 += 1; return $0 }
            return .bytes(200, headers: ["Content-Type": "application/json"], Array(#"{"token":"auth-\#(count)"}"#.utf8))
        }
        let secret = try JSONSerialization.data(withJSONObject: [
            "uid": "svc-batch", "private_key": key.pemRepresentation, "scheme": "RS256",
            "login_endpoint": "http://fake-master:5050/acs/api/v1/auth/login",
        ])
        let account = try DCOSServiceAccount(secretJSON: [UInt8](secret))
        let authenticator = try DCOSAuthenticator(account: account, transport: master.transport)
        #expect(try await authenticator.authorization(refresh: false) == "token=auth-1")
        #expect(try await authenticator.authorization(refresh: false) == "token=auth-1")

        await master.inject(.respond(.text(401, "")), matching: .call(.revive))
        let scheduler = makeScheduler(master: master) { $0.authenticator = authenticator }
        try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            try await scheduler.revive()
        }
        let headers = await master.receivedCalls.map { $0.request.headers["Authorization"] }
        // The framework's principal was empty: the service account's uid fills it.
        let subscribe = await master.receivedCalls.first { $0.type == .subscribe }
        #expect(subscribe?.call?.subscribe.frameworkInfo.principal == "svc-batch")
        #expect(scheduler.configuration.frameworkInfo.principal == "svc-batch")
        #expect(headers.first == "token=auth-1")
        #expect(headers.last == "token=auth-2")
        #expect(logins.withLock { $0 } == 2)

        let wrongKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let impostor = try DCOSAuthenticator(
            account: DCOSServiceAccount(uid: "svc-batch", privateKeyPEM: wrongKey.pemRepresentation, loginEndpoint: account.loginEndpoint),
            transport: master.transport)
        await #expect(throws: MesosError(code: .authenticationFailed)) { try await impostor.authorization(refresh: true) }
        #expect(throws: MesosError(code: .invalidConfiguration)) { try DCOSServiceAccount(secretJSON: Array("{}".utf8)) }
        #expect(String(describing: try BasicAuthenticator(principal: "p", secret: "hunter2")).contains("hunter2") == false)
    }
}

/// One in-memory metrics backend for the whole test process (swift-metrics can be bootstrapped once).
let sharedTestMetrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
}()

extension Data {
    /// Decodes unpadded base64url.
    init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        self.init(base64Encoded: text)
    }
}
