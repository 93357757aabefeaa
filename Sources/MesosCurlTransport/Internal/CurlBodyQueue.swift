import MesosCore

/// The bounded queue of unread body chunks between libcurl's write callback (producer, engine thread) and the
/// body's consumer. A value type: its owner keeps it behind a lock.
///
/// Past `capacity` unread bytes the producer is told to pause; once the consumer has drained the queue to half
/// of it, the paused transfer should resume.
struct CurlBodyQueue {
    /// Unread chunks.
    private var chunks = FIFOQueue<ArraySlice<UInt8>>()
    /// Unread bytes.
    private(set) var bufferedBytes = 0
    /// The producer was told to pause because the queue was full, and has not been resumed since.
    private(set) var isPaused = false
    private let capacity: Int
    private let resumeThreshold: Int

    /// A queue that pauses its producer past `capacity` bytes (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.resumeThreshold = self.capacity / 2
    }

    /// `true` when nothing is unread.
    var isEmpty: Bool {
        self.chunks.isEmpty
    }

    /// The length of the queue's storage (for tests: it stays bounded).
    var storageCount: Int {
        self.chunks.storageCount
    }

    /// Queues a chunk, unless the queue is full: then it returns `false` and remembers that the producer paused
    /// (it delivers the same bytes again after it resumes).
    mutating func append(_ chunk: ArraySlice<UInt8>) -> Bool {
        guard self.bufferedBytes < self.capacity else {
            self.isPaused = true
            return false
        }
        self.chunks.append(chunk)
        self.bufferedBytes += chunk.count
        return true
    }

    /// Takes the oldest chunk, if any, and says whether a paused producer should now resume.
    mutating func take() -> (chunk: ArraySlice<UInt8>?, resume: Bool) {
        guard let chunk = self.chunks.popFirst() else {
            return (nil, false)
        }
        self.bufferedBytes -= chunk.count
        var resume = false
        if self.isPaused && self.bufferedBytes <= self.resumeThreshold {
            self.isPaused = false
            resume = true
        }
        return (chunk, resume)
    }

    /// Drops everything unread.
    mutating func removeAll() {
        _ = self.chunks.removeAll()
        self.bufferedBytes = 0
    }
}
