/// A first-in, first-out queue of values that releases each value as it is taken and keeps its storage bounded
/// by the number of values it holds, however long it is used without ever becoming empty.
///
/// The package's bounded hand-offs (a transport's unread body chunks, decoded event batches, the scheduler's
/// event buffer) keep their elements in one. An array with a moving head index is the obvious alternative, and
/// the wrong one: when the consumer is slow the queue is never empty, and the array kept every element ever
/// taken (a slow scheduler grew by the decoded events of the whole stream).
package struct FIFOQueue<Element> {
    /// Elements from `head` on; the slots before `head` were taken and are empty.
    private var storage: [Element?] = []
    private var head = 0

    /// An empty queue.
    package init() {}

    /// The number of elements in the queue.
    package var count: Int {
        self.storage.count - self.head
    }

    /// `true` when the queue holds nothing.
    package var isEmpty: Bool {
        self.head == self.storage.count
    }

    /// The length of the storage, taken slots included: at most twice ``count``, plus a small constant.
    package var storageCount: Int {
        self.storage.count
    }

    /// Adds an element at the back.
    package mutating func append(_ element: Element) {
        self.storage.append(element)
    }

    /// Removes and returns the front element, or `nil` when the queue is empty.
    package mutating func popFirst() -> Element? {
        guard self.head < self.storage.count else {
            return nil
        }
        let element = self.storage[self.head].take()
        self.head += 1
        if self.head == self.storage.count {
            self.storage.removeAll(keepingCapacity: true)
            self.head = 0
        } else if self.head >= 32, self.head * 2 >= self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
        return element
    }

    /// Removes every element and returns them in order.
    package mutating func removeAll() -> [Element] {
        defer {
            self.storage = []
            self.head = 0
        }
        return self.storage[self.head...].compactMap { $0 }
    }
}
