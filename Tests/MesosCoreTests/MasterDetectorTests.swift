import Foundation
import MesosCore
import Testing

@Suite("Master detector port")
struct MasterDetectorTests {
    struct Script: AsyncSequence, Sendable {
        typealias Element = MasterLocation?
        let elements: [MasterLocation?]
        struct AsyncIterator: AsyncIteratorProtocol {
            var remaining: [MasterLocation?]
            mutating func next() async -> MasterLocation?? {
                remaining.isEmpty ? nil : .some(remaining.removeFirst())
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: elements) }
    }

    @Test("the erased sequence keeps 'no leader' apart from the end of the sequence")
    func noLeaderIsNotTheEnd() async throws {
        let a = MasterLocation(host: "m1", port: 5050)
        let b = MasterLocation(scheme: "https", host: "m2", port: 5051)
        let detector = MasterDetector(leaders: Script(elements: [a, nil, b]), updateMode: .push)
        var seen: [MasterLocation?] = []
        for try await leader in detector.leaders {
            seen.append(leader)
        }
        #expect(seen == [a, nil, b])
        #expect(detector.updateMode == .push)
        #expect(b.schedulerURL.absoluteString == "https://m2:5051/api/v1/scheduler")
        #expect(a.description == "http://m1:5050")
    }

    @Test("a fixed detector answers its master on every pull")
    func fixed() async throws {
        let location = MasterLocation(host: "127.0.0.1", port: 5050)
        var iterator = MasterDetector.fixed(location).leaders.makeAsyncIterator()
        #expect(try await iterator.next() == .some(location))
        #expect(try await iterator.next() == .some(location))
    }
}
