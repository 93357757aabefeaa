import Testing

@testable import MesosCore

@Suite("FIFOQueue")
struct FIFOQueueTests {
    final class Tracked {
        static let live = LockedValue(0)
        init() { Self.live.withLock { $0 += 1 } }
        deinit { Self.live.withLock { $0 -= 1 } }
    }

    @Test("order, count and removeAll")
    func order() {
        var queue = FIFOQueue<Int>()
        #expect(queue.isEmpty && queue.popFirst() == nil)
        for value in 0..<5 { queue.append(value) }
        #expect(queue.count == 5)
        #expect(queue.popFirst() == 0)
        #expect(queue.popFirst() == 1)
        queue.append(5)
        #expect(queue.removeAll() == [2, 3, 4, 5])
        #expect(queue.isEmpty && queue.storageCount == 0)
    }

    @Test("a queue that is never empty keeps bounded storage and releases what was taken")
    func neverEmpty() {
        var queue = FIFOQueue<Tracked>()
        for _ in 0..<4 { queue.append(Tracked()) }
        var largestStorage = 0
        for _ in 0..<100_000 {
            queue.append(Tracked())
            _ = queue.popFirst()
            largestStorage = max(largestStorage, queue.storageCount)
        }
        #expect(queue.count == 4)
        #expect(largestStorage <= 2 * 4 + 64, "storage grew to \(largestStorage) slots for 4 elements")
        #expect(Tracked.live.withLock { $0 } == 4, "taken elements must be released at once")
        _ = queue.removeAll()
        #expect(Tracked.live.withLock { $0 } == 0)
    }
}
