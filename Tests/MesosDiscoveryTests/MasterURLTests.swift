import Foundation
import MesosCore
import MesosDiscovery
import MesosZooKeeper
import Testing

@Suite("Master URLs and the detector registry")
struct MasterURLTests {
    @Test(
        "static lists parse into masters",
        arguments: [
            ("http://m1:5050", ["http://m1:5050"]),
            ("http://m1:5050,m2:5051", ["http://m1:5050", "http://m2:5051"]),
            ("https://m1,m2:6000", ["https://m1:5050", "https://m2:6000"]),
            ("http://m1:5050/, https://m2:5050", ["http://m1:5050", "https://m2:5050"]),
            ("HTTP://[::1]:5050,127.0.0.1", ["http://[::1]:5050", "http://127.0.0.1:5050"]),
            ("http://m1:5050,m1:5050", ["http://m1:5050"]),
            ("https://proxy:8443/mesos", ["https://proxy:8443/mesos"]),
            ("https://proxy:8443/mesos/,m2:5050/dcos//mesos", ["https://proxy:8443/mesos", "https://m2:5050/dcos/mesos"]),
        ]
    )
    func staticLists(url: String, expected: [String]) throws {
        let configuration = try MasterDetectors.Static.Configuration(url: url)
        #expect(configuration.masters.map(\.description) == expected)
    }

    @Test(
        "malformed static lists are invalidConfiguration naming the problem",
        arguments: [
            ("http://", "empty"),
            ("http://m1:5050,", "empty"),
            ("http://m1:port", "host[:port]"),
            ("http://m1:70000", "host[:port]"),
            ("http://m1:5050/api/../x", "plain segments"),
            ("http://m1:5050/a%2Fb", "plain segments"),
            ("http://user:pw@m1:5050", "user info"),
            ("ftp://m1:5050", "http or https"),
            ("http://m 1:5050", "host[:port]"),
            ("http://[::1:5050", "host[:port]"),
            ("http://m1:5050?x=1", "query"),
            ("m1:5050", "scheme"),
        ]
    )
    func malformedStaticLists(url: String, fragment: String) {
        let error = #expect(throws: MesosError.self) { try MasterDetectors.Static.Configuration(url: url) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
    }

    @Test(
        "the registry probes a list of masters for the leader",
        arguments: [
            ("http://m1:5050,m2:5050", "m1:5050"),
            ("https://m1:5050,m2:5050", "m1:5050"),
            ("m1:5050,m2:5050", "m1:5050"),
            ("master@10.0.0.1:5050,master@10.0.0.2:5050", "10.0.0.1:5050"),
            ("  http://m1:5050,m2:5050\n", "m1:5050"),
        ]
    )
    func registryPicksStatic(url: String, firstProbed: String) async throws {
        let transport = ScriptedTransport([firstProbed: [.redirect("//leader:5050")]])
        let detector = try MasterDetectors.make(url: url, transport: transport)
        #expect(detector.updateMode == .pull)
        var leaders = detector.leaders.makeAsyncIterator()
        let scheme = url.contains("https") ? "https" : "http"
        #expect(try await leaders.next() == .some(MasterLocation(scheme: scheme, host: "leader", port: 5050)))
        #expect(transport.probed.first == firstProbed)
    }

    @Test(
        "a single master is used as given, path prefix included, and never probed (a proxy's master would name itself)",
        arguments: [
            ("http://m1:5050", "http://m1:5050"),
            ("https://proxy:8443/mesos", "https://proxy:8443/mesos"),
            ("master@10.0.0.1:5050", "http://10.0.0.1:5050"),
            ("  https://m1:5050/\n", "https://m1:5050"),
        ]
    )
    func singleMasterIsFixed(url: String, expected: String) async throws {
        let transport = ScriptedTransport([:])
        var leaders = try MasterDetectors.make(url: url, transport: transport).leaders.makeAsyncIterator()
        #expect(try await leaders.next()??.description == expected)
        #expect(try await leaders.next()??.description == expected)
        #expect(transport.requests.isEmpty)
    }

    @Test("a path prefix goes under every endpoint; a redirect keeps it only on the same host and port")
    func pathPrefix() throws {
        let proxy = MasterLocation(scheme: "https", host: "proxy", port: 8443, pathPrefix: "mesos/")
        #expect(proxy.pathPrefix == "/mesos")
        #expect(proxy.schedulerURL.absoluteString == "https://proxy:8443/mesos/api/v1/scheduler")
        #expect(proxy.baseURL.appendingPathComponent("master/redirect").absoluteString == "https://proxy:8443/mesos/master/redirect")
        #expect(proxy != MasterLocation(scheme: "https", host: "proxy", port: 8443))
        let same = try #require(MasterLocation(redirectLocation: "//proxy:8443/api/v1/scheduler", relativeTo: proxy))
        #expect(same.description == "https://proxy:8443/mesos")
        let other = try #require(MasterLocation(redirectLocation: "//10.0.0.7:5050/api/v1/scheduler", relativeTo: proxy))
        #expect(other.description == "https://10.0.0.7:5050")
        let plain = MasterLocation(host: "m1", port: 5050)
        #expect(plain.schedulerURL.absoluteString == "http://m1:5050/api/v1/scheduler")
        #expect(MasterLocation(redirectLocation: "//m2:5050", relativeTo: plain)?.description == "http://m2:5050")
    }

    @Test("zk:// needs the ZooKeeper factory, which MesosZooKeeper adds")
    func zooKeeperScheme() throws {
        let transport = ScriptedTransport([:])
        let error = #expect(throws: MesosError.self) {
            try MasterDetectors.make(url: "zk://z1:2181/mesos", transport: transport)
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("zooKeeper") == true)
        let detector = try MasterDetectors.make(url: "zk://z1:2181/mesos", transport: transport, registry: .withZooKeeper)
        #expect(detector.updateMode == .push)
        let alsoDetector = try MasterDetectorRegistry.defaults.adding(.zooKeeper).makeDetector(
            url: "ZK://u:p@z1,z2:2182/mesos", transport: transport
        )
        #expect(alsoDetector.updateMode == .push)
        #expect(MasterDetectorRegistry.withZooKeeper.schemes == ["http", "https", "zk"])
    }

    @Test("file:// holds the real URL: a static list or a ZooKeeper URL")
    func fileURLs() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let transport = ScriptedTransport(["m2:5050": [.redirect("//m2:5050")]])

        let list = directory.appendingPathComponent("masters")
        try "  http://m1:5050,m2:5050\n".write(to: list, atomically: true, encoding: .utf8)
        let detector = try MasterDetectors.make(url: "file://\(list.path)", transport: transport)
        var leaders = detector.leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(host: "m2", port: 5050)))

        let zk = directory.appendingPathComponent("zk")
        try "zk://z1:2181/mesos\n".write(to: zk, atomically: true, encoding: .utf8)
        #expect(try MasterDetectors.make(url: "file://\(zk.path)", transport: transport, registry: .withZooKeeper)
            .updateMode == .push)

        let nested = directory.appendingPathComponent("nested")
        try "file://\(list.path)".write(to: nested, atomically: true, encoding: .utf8)
        let empty = directory.appendingPathComponent("empty")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        for (url, fragment) in [
            ("file://\(nested.path)", "another file://"),
            ("file://\(empty.path)", "empty"),
            ("file://\(directory.path)/missing", "Cannot read"),
            ("file://", "Malformed file URL"),
        ] {
            let error = #expect(throws: MesosError.self) { try MasterDetectors.make(url: url, transport: transport) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
        }
    }

    @Test("unknown schemes and empty URLs are rejected; a custom factory can be added")
    func customFactory() throws {
        let transport = ScriptedTransport([:])
        for url in ["", "   ", "consul://x/mesos"] {
            let error = #expect(throws: MesosError.self) { try MasterDetectors.make(url: url, transport: transport) }
            #expect(error?.code == .invalidConfiguration)
        }
        let fixed = MasterDetectorFactory(schemes: ["Consul"]) { (_: String, _: MasterDetectorFactory.Context) throws(MesosError) in
            MasterDetector.fixed(MasterLocation(host: "from-consul", port: 1))
        }
        let registry = MasterDetectorRegistry.defaults.adding(fixed)
        #expect(registry.schemes == ["consul", "http", "https"])
        #expect(try registry.makeDetector(url: "consul://x/mesos", transport: transport).updateMode == .pull)
    }

    @Test("ZooKeeper URLs: servers, default port, credentials, path")
    func zooKeeperURL() throws {
        let url = try ZooKeeperURL("zk://alice:s3cr:et@z1:2181,z2,[::1]:2182/mesos/")
        #expect(url.servers == ["z1:2181", "z2:2181", "[::1]:2182"])
        #expect(url.connectString == "z1:2181,z2:2181,[::1]:2182")
        #expect(url.credentials == ZooKeeperURL.Credentials(username: "alice", password: "s3cr:et"))
        #expect(url.path == "/mesos")
        #expect(url.description == "zk://alice:***@z1:2181,z2:2181,[::1]:2182/mesos")
        #expect(try ZooKeeperURL("zk://z1:2181/a/b").path == "/a/b")
        #expect(try ZooKeeperURL("zk://z1:2181/a/b").credentials == nil)
    }

    @Test(
        "malformed ZooKeeper URLs are invalidConfiguration, without the password in the message",
        arguments: [
            ("zk://z1:2181", "path"),
            ("zk://z1:2181/", "must not be /"),
            ("zk:///mesos", "no ZooKeeper servers"),
            ("zk://z1:99999/mesos", "host[:port]"),
            ("zk://z1:2181,/mesos", "empty server"),
            ("zk://:secret@z1/mesos", "user:password"),
            ("zk://secret@z1/mesos", "user:password"),
            ("zk://z1/a//b", "not a valid znode path"),
            ("zk://z1/a/../b", "not a valid znode path"),
            ("http://z1/mesos", "zk://"),
            ("zk://u:secret@z1:2181/mesos?x", "query"),
        ]
    )
    func malformedZooKeeperURLs(url: String, fragment: String) {
        let error = #expect(throws: MesosError.self) { try ZooKeeperURL(url) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("secret") == false)
    }
}
