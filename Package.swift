// swift-tools-version:6.0
import PackageDescription

/// Settings every target of this package shares.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-mesos",
    platforms: [.macOS(.v15)],
    products: [
        // The pure domain: wire models, codecs, the subscription state machine, errors.
        .library(name: "MesosCore", targets: ["MesosCore"]),
        // RecordIO framing only; no dependencies at all.
        .library(name: "MesosRecordIO", targets: ["MesosRecordIO"]),
        // Decodes a captured RecordIO event stream into typed events.
        .executable(name: "mesos-decode", targets: ["MesosDecodeTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
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
            dependencies: ["MesosCore", "MesosRecordIO"],
            path: "Fuzz/MesosFuzzEvents",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosRecordIOTests",
            dependencies: ["MesosRecordIO"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosCoreTests",
            dependencies: ["MesosCore", "MesosRecordIO"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesosIntegrationTests",
            dependencies: ["MesosCore", "MesosRecordIO"],
            path: "IntegrationTests/MesosIntegrationTests",
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
