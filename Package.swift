// swift-tools-version:6.1
import PackageDescription

/// Settings every target of this package shares.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// Linker settings of the executor executables: one executor process runs per task, so their footprint counts.
/// In release builds on Linux the Swift runtime and Foundation are linked statically: only the pages an
/// executor touches become resident, instead of whole shared libraries with their relocations (see README,
/// "Executor footprint"). `-static-stdlib` links the static Foundation archives, whose own dependencies
/// (FoundationInternationalization, the ICU build, CoreFoundation, …) are named here in one group because the
/// package's objects were compiled against the shared modules and carry no link entries for them.
let executorLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-executable",
            "-Xlinker", "--start-group",
            "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-l_FoundationCShims",
            "-Xlinker", "-l_FoundationCollections",
            "-Xlinker", "--end-group",
        ],
        .when(platforms: [.linux], configuration: .release)
    ),
]

let package = Package(
    name: "swift-mesos",
    platforms: [.macOS(.v15)],
    products: [
        // The pure domain: wire models, codecs, the subscription state machine, errors.
        .library(name: "MesosCore", targets: ["MesosCore"]),
        // RecordIO framing only; no dependencies at all.
        .library(name: "MesosRecordIO", targets: ["MesosRecordIO"]),
        // The Mesos resource algebra (fixed-point scalars, ranges, sets, reservations), pure.
        .library(name: "MesosResources", targets: ["MesosResources"]),
        // The framework toolkit's services: offer book, suppress/revive, acknowledgements, reconciliation.
        .library(name: "MesosFramework", targets: ["MesosFramework"]),
        // Transport adapters: pick one.
        .library(name: "MesosCurlTransport", targets: ["MesosCurlTransport"]),
        .library(name: "MesosURLSessionTransport", targets: ["MesosURLSessionTransport"]),
        .library(name: "MesosInMemoryTransport", targets: ["MesosInMemoryTransport"]),
        // Plain HTTP/1.1 over POSIX sockets (TCP or a unix domain socket), no TLS and no dependencies beyond the
        // domain: what an executor needs to talk to its local agent with the smallest footprint.
        .library(name: "MesosSocketTransport", targets: ["MesosSocketTransport"]),
        // SwiftNIO (NIOHTTP1, swift-nio-ssl): runs on the host application's EventLoopGroup or its own.
        .library(name: "MesosNIOTransport", targets: ["MesosNIOTransport"]),
        // gzip/deflate through zlib, for bodies a transport does not decode itself.
        .library(name: "MesosCompression", targets: ["MesosCompression"]),
        // The scheduler service: subscribe, events, calls, resilience, auth.
        .library(name: "MesosScheduler", targets: ["MesosScheduler"]),
        // DC/OS service-account login (RS256 JWT) for MesosScheduler.
        .library(name: "MesosDCOSAuth", targets: ["MesosDCOSAuth"]),
        // Master discovery: static list with leader probing, and ZooKeeper.
        .library(name: "MesosDiscovery", targets: ["MesosDiscovery"]),
        .library(name: "MesosZooKeeper", targets: ["MesosZooKeeper"]),
        // The executor service: subscribe to the agent, updates kept until acknowledged, checkpoint recovery.
        .library(name: "MesosExecutor", targets: ["MesosExecutor"]),
        // Runs a TaskInfo's command like Mesos's command executor: process group, kill escalation, health checks.
        .library(name: "MesosCommandExecutor", targets: ["MesosCommandExecutor"]),
        // The operator service: typed master and agent operator calls, the master event stream, a live
        // cluster-state mirror, task sandbox files.
        .library(name: "MesosOperator", targets: ["MesosOperator"]),
        // The framework state store on ZooKeeper, fenced by a ZooKeeper leader election.
        .library(name: "MesosFrameworkZooKeeper", targets: ["MesosFrameworkZooKeeper"]),
        // A scriptable fake master (in memory and over HTTP on 127.0.0.1) for tests.
        .library(name: "MesosTestKit", targets: ["MesosTestKit"]),
        // An in-process local cluster (master + agents that run real commands) behind the in-memory transport.
        .library(name: "MesosLocalCluster", targets: ["MesosLocalCluster"]),
        // Runs one command as a task, like Mesos's mesos-execute; with no --master, on the local cluster.
        .executable(name: "mesos-execute", targets: ["MesosExecuteTool"]),
        // A small batch framework example.
        .executable(name: "batch-framework", targets: ["BatchFramework"]),
        // A service framework example: keeps N instances running; HA through ZooKeeper, or a state file.
        .executable(name: "service-framework", targets: ["ServiceFramework"]),
        // The command executor the agent runs for command tasks (install as $MESOS_LAUNCHER_DIR/mesos-executor).
        .executable(name: "mesos-command-executor", targets: ["MesosCommandExecutorTool"]),
        // A custom executor example: answers framework messages (`mesos-execute --executor … --message …`).
        .executable(name: "echo-executor", targets: ["EchoExecutor"]),
        // The operator command-line tool: cluster state, agents, frameworks, tasks, events, task logs.
        .executable(name: "mesos", targets: ["MesosOperatorTool"]),
        // Throughput, latency, memory and idle-CPU benchmarks.
        .executable(name: "mesos-bench", targets: ["MesosBench"]),
        // The README's example framework.
        .executable(name: "launch-task", targets: ["LaunchTask"]),
        // Decodes a captured RecordIO event stream into typed events.
        .executable(name: "mesos-decode", targets: ["MesosDecodeTool"]),
    ],
    dependencies: [
        // No traits: the default ones (binary-delimited Foundation streams, field-mask helpers) are unused and the
        // first imports all of Foundation, which the executor executables must not link.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "MesosRecordIO",
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosCore",
            dependencies: [
                "MesosRecordIO",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosResources",
            dependencies: ["MesosCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosFramework",
            dependencies: [
                "MesosCore", "MesosResources", "MesosScheduler",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"]), .yum(["libcurl-devel"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"]), .yum(["zlib-devel"])]
        ),
        .target(
            name: "MesosCurlTransport",
            dependencies: ["MesosCore", "CCurl"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosURLSessionTransport",
            dependencies: ["MesosCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosNIOTransport",
            dependencies: [
                "MesosCore", "MesosCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosSocketTransport",
            dependencies: ["MesosCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosInMemoryTransport",
            dependencies: ["MesosCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosScheduler",
            dependencies: [
                "MesosCore",
                "MesosRecordIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosDCOSAuth",
            dependencies: [
                "MesosCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosDiscovery",
            dependencies: ["MesosCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosExecutor",
            dependencies: [
                "MesosCore",
                "MesosRecordIO",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosCommandExecutor",
            dependencies: [
                "MesosCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosOperator",
            dependencies: [
                "MesosCore",
                "MesosRecordIO",
                "MesosDiscovery",
                "MesosCompression",
                "MesosResources",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CZooKeeper",
            providers: [.apt(["libzookeeper-mt-dev"])]
        ),
        .target(
            name: "MesosZooKeeper",
            dependencies: ["MesosCore", "MesosDiscovery", "CZooKeeper"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosFrameworkZooKeeper",
            dependencies: [
                "MesosCore", "MesosFramework", "MesosScheduler", "MesosZooKeeper",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosCompression",
            dependencies: ["MesosCore", "CZlib"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosTestKit",
            dependencies: [
                "MesosCore",
                "MesosRecordIO",
                "MesosInMemoryTransport",
                "MesosScheduler",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesosLocalCluster",
            dependencies: [
                "MesosCore",
                "MesosRecordIO",
                "MesosResources",
                "MesosInMemoryTransport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // What every tool shares for reaching a master: the TLS and DC/OS options and the transport they build.
        .target(
            name: "MesosToolSupport",
            dependencies: [
                "MesosCore", "MesosCurlTransport", "MesosURLSessionTransport", "MesosDCOSAuth", "MesosNIOTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesosExecuteTool",
            dependencies: [
                "MesosCore", "MesosScheduler", "MesosCurlTransport", "MesosURLSessionTransport", "MesosLocalCluster",
                "MesosDiscovery", "MesosZooKeeper", "MesosResources", "MesosFramework", "MesosOperator", "MesosToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/MesosExecuteTool",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "BatchFramework",
            dependencies: [
                "MesosCore", "MesosScheduler", "MesosCurlTransport", "MesosLocalCluster", "MesosDiscovery",
                "MesosResources", "MesosFramework",
                "MesosToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/BatchFramework",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ServiceFramework",
            dependencies: [
                "MesosCore", "MesosScheduler", "MesosCurlTransport", "MesosLocalCluster", "MesosDiscovery",
                "MesosFramework", "MesosZooKeeper", "MesosFrameworkZooKeeper",
                "MesosToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/ServiceFramework",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesosCommandExecutorTool",
            dependencies: [
                "MesosExecutor", "MesosCommandExecutor", "MesosSocketTransport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/MesosCommandExecutorTool",
            swiftSettings: strictSettings,
            linkerSettings: executorLinkerSettings
        ),
        .executableTarget(
            name: "EchoExecutor",
            dependencies: ["MesosExecutor", "MesosSocketTransport"],
            path: "Examples/EchoExecutor",
            swiftSettings: strictSettings,
            linkerSettings: executorLinkerSettings
        ),
        .executableTarget(
            name: "MesosOperatorTool",
            dependencies: [
                "MesosCore", "MesosOperator", "MesosCurlTransport", "MesosDiscovery", "MesosZooKeeper",
                "MesosToolSupport", "MesosLocalCluster", "MesosInMemoryTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Sources/MesosOperatorTool",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesosBench",
            dependencies: [
                "MesosCore", "MesosRecordIO", "MesosScheduler", "MesosCurlTransport", "MesosURLSessionTransport", "MesosNIOTransport",
                "MesosToolSupport", "MesosTestKit", "MesosResources", "MesosFramework", "MesosInMemoryTransport", "MesosOperator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/MesosBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "LaunchTask",
            dependencies: ["MesosCore", "MesosResources", "MesosScheduler", "MesosCurlTransport"],
            path: "Examples/LaunchTask",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesosDecodeTool",
            dependencies: ["MesosCore", "MesosRecordIO"],
            path: "Sources/MesosDecodeTool",
            swiftSettings: strictSettings
        ),
        // libFuzzer entry points. A normal build compiles them as small programs that explain how to
        // build them for fuzzing; see scripts/fuzz.sh.
        .executableTarget(
            name: "MesosFuzzRecordIO",
            dependencies: ["MesosRecordIO"],
            path: "Fuzz/MesosFuzzRecordIO",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesosFuzzEvents",
            dependencies: ["MesosCore", "MesosRecordIO", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Fuzz/MesosFuzzEvents",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosRecordIOTests",
            dependencies: ["MesosRecordIO"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosResourcesTests",
            dependencies: ["MesosResources"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosFrameworkTests",
            dependencies: [
                "MesosFramework", "MesosResources", "MesosScheduler", "MesosTestKit", "MesosInMemoryTransport",
                "MesosLocalCluster",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosCoreTests",
            dependencies: ["MesosCore", "MesosRecordIO", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosCurlTransportTests",
            dependencies: ["MesosCurlTransport", "MesosTestKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosNIOTransportTests",
            dependencies: [
                "MesosNIOTransport", "MesosCore", "MesosTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosSocketTransportTests",
            dependencies: ["MesosSocketTransport", "MesosCore", "MesosTestKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosURLSessionTransportTests",
            dependencies: ["MesosURLSessionTransport", "MesosTestKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosSchedulerTests",
            dependencies: [
                "MesosScheduler", "MesosDCOSAuth", "MesosTestKit", "MesosInMemoryTransport", "MesosCurlTransport",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosLocalClusterTests",
            dependencies: [
                "MesosLocalCluster", "MesosScheduler", "MesosInMemoryTransport", "MesosResources", "MesosTestKit",
                "MesosOperator", "MesosRecordIO",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosDiscoveryTests",
            dependencies: [
                "MesosDiscovery", "MesosZooKeeper", "MesosTestKit", "MesosInMemoryTransport", "MesosScheduler",
                "MesosCurlTransport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosFrameworkZooKeeperTests",
            dependencies: [
                "MesosCore", "MesosFramework", "MesosZooKeeper", "MesosFrameworkZooKeeper", "MesosTestKit",
                "MesosScheduler", "MesosCurlTransport", "MesosDiscovery",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosExecutorTests",
            dependencies: ["MesosExecutor", "MesosCore", "MesosTestKit", "MesosInMemoryTransport", "MesosCurlTransport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosCommandExecutorTests",
            dependencies: ["MesosCommandExecutor", "MesosCore", "MesosTestKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosOperatorTests",
            dependencies: [
                "MesosOperator", "MesosCore", "MesosTestKit", "MesosInMemoryTransport", "MesosCurlTransport",
                "MesosLocalCluster", "MesosDiscovery", "MesosCompression", "MesosOperatorTool", "MesosResources",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosToolSupportTests",
            dependencies: [
                "MesosToolSupport", "MesosCore", "MesosCurlTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosCompressionTests",
            dependencies: ["MesosCompression", "MesosTestKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosTestKitTests",
            dependencies: ["MesosTestKit", "MesosInMemoryTransport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosTransportConformanceTests",
            dependencies: [
                "MesosCore", "MesosRecordIO", "MesosCurlTransport", "MesosURLSessionTransport",
                "MesosInMemoryTransport", "MesosCompression", "MesosTestKit", "MesosSocketTransport", "MesosNIOTransport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosIntegrationTests",
            dependencies: [
                "MesosCore", "MesosRecordIO", "MesosScheduler", "MesosCurlTransport", "MesosDiscovery", "MesosZooKeeper",
                "MesosTestKit", "MesosResources", "MesosFramework", "MesosInMemoryTransport", "MesosOperator",
                "MesosNIOTransport",
            ],
            path: "IntegrationTests/MesosIntegrationTests",
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
