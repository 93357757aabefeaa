import MesosCore

/// Follows one file on an agent, as `tail -f` does: an asynchronous sequence of the byte chunks appended to it.
///
/// It polls by offset. Each step reads up to ``Options/chunkSize`` bytes at the current offset; data is yielded at
/// once and the next read follows immediately. When a read comes back empty the follower has caught up: if the
/// file is now shorter than the offset it was truncated or replaced (log rotation), and reading starts again at
/// offset 0; otherwise it asks `isFinished` whether the task has ended, and if so reads once more (output written
/// just before the task ended is not lost) and ends; otherwise it sleeps ``Options/pollInterval`` on its clock.
/// `isFinished` is asked at most once per ``Options/finishCheckInterval`` on the follower's clock (the first idle
/// poll always asks): where it is costly (a master's GET_TASKS lists every task of the cluster) the follower then
/// keeps polling the file cheaply and notices the task's end at most that much later.
///
/// A missing file (404) before the first byte means the sandbox is not there yet (the task is staging): the
/// follower waits for it unless the task has already finished, in which case it throws
/// ``MesosError/Code/notFound``. A file that disappears after output was shown (the sandbox was
/// garbage-collected) ends the sequence once the task has finished, and is waited for otherwise.
///
/// Cancelling the consuming task ends the iteration with ``MesosError/Code/cancelled``. The sequence can be
/// iterated more than once; each iterator starts over from ``Options/start``.
public struct TaskFileFollower: AsyncSequence, Sendable {
    /// A chunk of the file's bytes, in file order.
    public typealias Element = [UInt8]
    /// The only error the follower throws.
    public typealias Failure = MesosError

    /// Where following starts.
    public struct Start: Sendable, Hashable {
        enum Wrapped: Hashable, Sendable {
            case beginning
            case end
            case lastBytes(UInt64)
        }

        let wrapped: Wrapped

        /// From the first byte: the whole file, then what is appended.
        public static let beginning = Start(wrapped: .beginning)
        /// From the current end: only what is appended from now on.
        public static let end = Start(wrapped: .end)

        /// The last `count` bytes (all of a shorter file), then what is appended.
        ///
        /// - Parameter count: How many bytes before the end to start at.
        /// - Returns: The start.
        public static func lastBytes(_ count: UInt64) -> Start {
            Start(wrapped: .lastBytes(count))
        }

        /// The offset to start at in a file of `size` bytes.
        func offset(size: UInt64) -> UInt64 {
            switch self.wrapped {
            case .beginning: 0
            case .end: size
            case .lastBytes(let count): size > count ? size - count : 0
            }
        }
    }

    /// How the follower reads.
    public struct Options: Sendable, Hashable {
        /// Where to start (the last 4 KiB by default).
        public var start: Start
        /// How long to wait after catching up before the next read (0.5 s by default, as Mesos's own
        /// `mesos-tail`).
        public var pollInterval: Duration
        /// The most bytes one read asks for (64 KiB, the agent's cap, by default).
        public var chunkSize: UInt64
        /// The least time between two calls of the follower's `isFinished` (zero by default: at every idle poll).
        /// Between them, idle polls only read the file.
        public var finishCheckInterval: Duration

        /// Creates options.
        ///
        /// - Parameters:
        ///   - start: Where to start.
        ///   - pollInterval: The wait after catching up; at least 1 ms.
        ///   - chunkSize: The most bytes per read, between 1 and 64 KiB.
        ///   - finishCheckInterval: The least time between two `isFinished` calls; negative values are zero.
        public init(
            start: Start = .lastBytes(4096),
            pollInterval: Duration = .milliseconds(500),
            chunkSize: UInt64 = TaskFiles.maximumReadLength,
            finishCheckInterval: Duration = .zero
        ) {
            self.start = start
            self.pollInterval = Swift.max(pollInterval, .milliseconds(1))
            self.chunkSize = Swift.min(Swift.max(chunkSize, 1), TaskFiles.maximumReadLength)
            self.finishCheckInterval = Swift.max(finishCheckInterval, .zero)
        }
    }

    let files: TaskFiles
    let path: String
    let options: Options
    let time: TimeSource
    let isFinished: (@Sendable () async throws(MesosError) -> Bool)?

    /// Returns an iterator that starts at ``Options/start``.
    public func makeAsyncIterator() -> Iterator {
        Iterator(follower: self)
    }

    /// Reads the file step by step; see ``TaskFileFollower``.
    public struct Iterator: AsyncIteratorProtocol {
        /// The only error the follower throws.
        public typealias Failure = MesosError

        private let follower: TaskFileFollower
        /// The next byte to read; `nil` until the file's size was first learnt.
        private var offset: UInt64?
        /// The task was seen finished: one more pass of reads, then the end.
        private var draining = false
        private var ended = false
        /// When `isFinished` was last asked, on the follower's clock.
        private var lastFinishCheck: Duration?

        init(follower: TaskFileFollower) {
            self.follower = follower
        }

        /// The next chunk appended to the file, or `nil` once the task has finished and everything was read.
        ///
        /// - Throws: ``MesosError``: the agent's errors, ``MesosError/Code/notFound`` for a file that never
        ///   appeared for a finished task, ``MesosError/Code/cancelled`` when the consuming task is cancelled.
        public mutating func next() async throws(MesosError) -> [UInt8]? {
            do {
                return try await self.step()
            } catch {
                self.ended = true
                throw error
            }
        }

        private mutating func step() async throws(MesosError) -> [UInt8]? {
            let files = self.follower.files
            let path = self.follower.path
            let options = self.follower.options
            while !self.ended {
                if Task.isCancelled {
                    throw MesosError(code: .cancelled, message: "Following \(path) was cancelled")
                }
                guard let offset = self.offset else {
                    do {
                        self.offset = options.start.offset(size: try await files.size(path: path))
                    } catch where error.code == .notFound {
                        if try await self.taskFinished() {
                            throw MesosError(
                                code: .notFound,
                                message: "\(error.message) (the task has finished and its sandbox file is not there)",
                                httpStatus: error.httpStatus
                            )
                        }
                        try await self.pause()
                    }
                    continue
                }
                let page: TaskFiles.Page
                do {
                    page = try await files.read(path: path, offset: offset, length: options.chunkSize)
                } catch where error.code == .notFound {
                    // The file went away after it had been read: garbage-collected, or rotated away.
                    var finished = self.draining
                    if !finished {
                        finished = try await self.taskFinished()
                    }
                    if finished {
                        self.ended = true
                        return nil
                    }
                    try await self.pause()
                    continue
                }
                if !page.data.isEmpty {
                    self.offset = offset + UInt64(page.data.count)
                    return page.data
                }
                let size: UInt64
                if let reported = page.size {
                    size = reported
                } else {
                    do {
                        size = try await files.size(path: path)
                    } catch where error.code == .notFound {
                        continue
                    }
                }
                if size < offset {
                    // Truncated, or replaced by a shorter file: start over from its beginning.
                    self.offset = 0
                    continue
                }
                if self.draining {
                    self.ended = true
                    return nil
                }
                if try await self.taskFinished() {
                    self.draining = true
                    continue
                }
                try await self.pause()
            }
            return nil
        }

        /// Asks `isFinished`, unless it was asked less than ``Options/finishCheckInterval`` ago (then `false`).
        private mutating func taskFinished() async throws(MesosError) -> Bool {
            guard let isFinished = self.follower.isFinished else { return false }
            let now = self.follower.time.now()
            if let last = self.lastFinishCheck, now - last < self.follower.options.finishCheckInterval {
                return false
            }
            self.lastFinishCheck = now
            return try await isFinished()
        }

        private func pause() async throws(MesosError) {
            do {
                try await self.follower.time.sleep(for: self.follower.options.pollInterval)
            } catch {
                throw MesosError(code: .cancelled, message: "Following \(self.follower.path) was cancelled", cause: error)
            }
        }
    }
}
