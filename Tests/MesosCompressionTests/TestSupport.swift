import Foundation
import MesosCore
import Testing

/// Runs a program with `input` on stdin and returns its stdout; throws if it exits non-zero. The wait runs on a
/// thread of its own: `waitUntilExit()` would hold one of the cooperative pool's threads (two on a 2-core
/// machine) for as long as the program runs.
func run(_ executable: String, _ arguments: [String], input: [UInt8] = []) async throws -> [UInt8] {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
        Thread {
            continuation.resume(with: Result { try runBlocking(executable, arguments, input: input) })
        }.start()
    }
}

/// ``run(_:_:input:)`` on the calling thread.
private func runBlocking(_ executable: String, _ arguments: [String], input: [UInt8]) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mesos-compression-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let inputURL = directory.appendingPathComponent("in")
    let outputURL = directory.appendingPathComponent("out")
    try Data(input).write(to: inputURL)
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.standardInput = try FileHandle(forReadingFrom: inputURL)
    process.standardOutput = try FileHandle(forWritingTo: outputURL)
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(message: "\(executable) \(arguments) exited with \(process.terminationStatus)")
    }
    return Array(try Data(contentsOf: outputURL))
}

/// Runs a Python 3 snippet that reads bytes from `sys.stdin.buffer` and writes bytes to `sys.stdout.buffer`.
func python(_ script: String, input: [UInt8] = []) async throws -> [UInt8] {
    try await run("python3", ["-c", script], input: input)
}

struct ToolFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Deterministic test data: JSON-like text mixed with pseudo-random bytes, so it compresses but not trivially.
func samplePayload(size: Int, seed: UInt64 = 42) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size)
    let words = Array(#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o-"}, "hostname":"agent-"#.utf8)
    while bytes.count < size {
        if generator.next() % 3 == 0 {
            for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: generator.next())) }
        } else {
            bytes.append(contentsOf: words)
        }
    }
    return Array(bytes.prefix(size))
}

/// How to cut an input into chunks.
enum Split: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case whole, oneByte, sevenBytes, random

    var testDescription: String { rawValue }

    func apply(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        switch self {
        case .whole:
            return bytes.isEmpty ? [] : [bytes[...]]
        case .oneByte:
            return bytes.indices.map { bytes[$0..<$0 + 1] }
        case .sevenBytes:
            return stride(from: 0, to: bytes.count, by: 7).map { bytes[$0..<min($0 + 7, bytes.count)] }
        case .random:
            var generator = SplitMix64(seed: UInt64(bytes.count))
            var chunks: [ArraySlice<UInt8>] = []
            var index = 0
            while index < bytes.count {
                let size = Int(generator.next() % 5000) + 1
                chunks.append(bytes[index..<min(index + size, bytes.count)])
                index += size
            }
            return chunks
        }
    }
}

/// An asynchronous sequence of fixed chunks that can end with an error.
struct Chunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    var chunks: [ArraySlice<UInt8>]
    var error: MesosError?

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<ArraySlice<UInt8>>
        var error: MesosError?
        mutating func next() async throws -> ArraySlice<UInt8>? {
            if let chunk = remaining.popFirst() { return chunk }
            if let error { self.error = nil; throw error }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: chunks[...], error: error) }
}

/// Collects every chunk of an asynchronous byte sequence.
func collectAll<S: AsyncSequence>(_ sequence: S) async throws -> (bytes: [UInt8], chunkSizes: [Int])
where S.Element == ArraySlice<UInt8> {
    var bytes: [UInt8] = []
    var sizes: [Int] = []
    for try await chunk in sequence {
        bytes.append(contentsOf: chunk)
        sizes.append(chunk.count)
    }
    return (bytes, sizes)
}

/// Runs `body` and returns the `MesosError` it throws, or `nil` if it throws nothing (any other error is
/// returned wrapped so the test fails on the code check).
func mesosError(_ body: () async throws -> Void) async -> MesosError? {
    do {
        try await body()
        return nil
    } catch let error as MesosError {
        return error
    } catch {
        return MesosError(code: .invalidState, message: "not a MesosError: \(error)")
    }
}
