// mesos-bench: throughput, latency, memory and idle-CPU benchmarks for swift-mesos.
// The modes are in BenchCommands.swift; run `mesos-bench --help`.
import ArgumentParser

do {
    var command = try MesosBenchCommand.parseAsRoot()
    if let benchmark = command as? any BenchMode {
        try await benchmark.runBenchmark()
    } else {
        try command.run()
    }
} catch {
    MesosBenchCommand.exit(withError: error)
}
