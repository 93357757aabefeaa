import ArgumentParser
import Foundation
import Logging
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosLocalCluster
import MesosOperator
import MesosToolSupport
import MesosZooKeeper

/// The options every command takes: where the master is, how to print, how to authenticate.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The master: host:port, http(s)://host:port[,host:port...], zk://host:port[,...]/path, or file:///path (default: $MESOS_MASTER).",
            valueName: "url"))
    var master: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Ask an embedded local cluster (a master and agents in this process; read-only calls and watch) instead of --master.",
        valueName: "local"))
    var local = false

    @Option(name: .customLong("local-agents"), help: "How many agents the --local cluster has.")
    var localAgents = 1

    @Flag(name: .long, help: "Print the master's answer as one JSON document (Mesos's field and enum names) instead of a table.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Give up on a call after this long (e.g. 30s, 2m).", valueName: "duration"))
    var timeout: ToolDuration = ToolDuration(.seconds(30), text: "30s")

    @Option(name: .long, help: "The principal for HTTP Basic authentication.")
    var principal: String?

    @Option(name: .long, help: "The secret for HTTP Basic authentication (default: $MESOS_SECRET).")
    var secret: String?

    @Flag(name: [.short, .long], help: "Log what the library does (redirects, retries) on standard error.")
    var verbose = false

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    /// The `--master` value, or `$MESOS_MASTER`.
    var masterURL: String? {
        let value = self.master ?? ProcessInfo.processInfo.environment["MESOS_MASTER"]
        let trimmed = value?.trimmingCharacters(in: .whitespaces) ?? ""
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// A duration on the command line: `500ms`, `30s`, `2m`, `1h`, or plain seconds.
struct ToolDuration: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let duration: Duration
    let text: String

    init(_ duration: Duration, text: String) {
        self.duration = duration
        self.text = text
    }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = text.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        let multiplier: Double
        switch text.dropFirst(digits.count) {
        case "ms": multiplier = 1e-3
        case "", "s", "sec", "secs": multiplier = 1
        case "m", "min", "mins": multiplier = 60
        case "h", "hr", "hrs": multiplier = 3600
        default: return nil
        }
        let seconds = value * multiplier
        guard seconds < 1e9 else { return nil }
        self.init(.nanoseconds(Int64(seconds * 1e9)), text: argument)
    }

    var description: String { self.text }
}

/// The connection to the leading master that a command uses.
struct MasterSession {
    let url: String
    let client: MesosMasterOperator
    let configuration: MesosOperatorConfiguration
    /// The embedded cluster of `--local`.
    let cluster: LocalCluster?
    /// The `--local` clusters, kept until the process ends (a command keeps only the client).
    static let localClusters = LockedValue<[LocalCluster]>([])

    /// Connects as the options say; fails with a usage error when no master is given.
    init(_ options: GlobalOptions) throws {
        if options.local {
            guard options.master == nil else {
                throw ToolFailure.usage("--local and --master exclude each other")
            }
            guard (1...64).contains(options.localAgents) else {
                throw ToolFailure.usage("--local-agents must be between 1 and 64")
            }
            let cluster = LocalCluster(configuration: LocalCluster.Configuration(agents: options.localAgents, agentResources: .thisMachine()))
            let configuration = MesosOperatorConfiguration(transport: cluster.transport, contentType: .json, callTimeout: options.timeout.duration)
            // The command's code holds only the client: the cluster lives until the process ends.
            Self.localClusters.withLock { $0.append(cluster) }
            self.url = "local"
            self.cluster = cluster
            self.configuration = configuration
            self.client = MesosMasterOperator(master: cluster.masterLocation, configuration: configuration)
            return
        }
        guard let url = options.masterURL else {
            throw ToolFailure.usage(
                "No master given: pass --master host:port (or a URL, zk://…, file://…), set MESOS_MASTER, or use --local")
        }
        var authenticator: (any MesosAuthenticator)?
        if let principal = options.principal {
            let secret = options.secret ?? ProcessInfo.processInfo.environment["MESOS_SECRET"] ?? ""
            authenticator = try BasicAuthenticator(principal: principal, secret: secret)
        }
        var logger: Logger?
        if options.verbose {
            var verbose = Logger(label: "mesos")
            verbose.logLevel = .debug
            logger = verbose
        }
        let transport = try options.security.makeTransport()
        if let account = try options.security.serviceAccountAuthenticator(transport: transport) {
            authenticator = account
        }
        // JSON, not protobuf: a real 1.11 master leaves completed tasks out of its protobuf GET_TASKS and
        // GET_STATE answers (they are in the JSON ones).
        let configuration = MesosOperatorConfiguration(
            transport: transport,
            contentType: .json,
            authenticator: authenticator,
            callTimeout: options.timeout.duration,
            logger: logger
        )
        self.url = url
        self.cluster = nil
        self.configuration = configuration
        self.client = try MesosMasterOperator(url: url, configuration: configuration, registry: .withZooKeeper)
    }
}
