import MesosCore

/// The decompressed chunks of a compressed byte stream.
///
/// It pulls compressed chunks from its upstream only when it has no decompressed output left, and each chunk it
/// returns is at most `outputChunkSize` bytes, so a small, highly compressed input never turns into one huge
/// allocation. Failures are ``MesosError``s: see ``Inflater`` for bad data and the size cap, the upstream's own
/// `MesosError`s pass through, `CancellationError` becomes ``MesosError/Code/cancelled`` and any other upstream
/// error ``MesosError/Code/transportFailure``.
public struct DecompressedSequence<Upstream: AsyncSequence>: AsyncSequence
where Upstream.Element == ArraySlice<UInt8> {
    /// A chunk of decompressed bytes.
    public typealias Element = ArraySlice<UInt8>

    private let upstream: Upstream
    private let format: Inflater.Format
    private let maximumSize: Int
    private let outputChunkSize: Int

    /// Creates the sequence.
    ///
    /// - Parameters:
    ///   - upstream: The compressed chunks.
    ///   - format: Their framing.
    ///   - maximumSize: The most decompressed bytes to accept.
    ///   - outputChunkSize: The largest chunk to return.
    public init(
        upstream: Upstream,
        format: Inflater.Format,
        maximumSize: Int = Inflater.defaultMaximumOutputSize,
        outputChunkSize: Int = Inflater.defaultOutputChunkSize
    ) {
        self.upstream = upstream
        self.format = format
        self.maximumSize = maximumSize
        self.outputChunkSize = outputChunkSize
    }

    /// Returns an iterator that decompresses lazily.
    public func makeAsyncIterator() -> Iterator {
        Iterator(
            upstream: self.upstream.makeAsyncIterator(),
            inflater: Inflater(format: self.format, maximumOutputSize: self.maximumSize, outputChunkSize: self.outputChunkSize)
        )
    }

    /// Decompresses chunk by chunk.
    public struct Iterator: AsyncIteratorProtocol {
        private var upstream: Upstream.AsyncIterator
        private let inflater: Inflater
        private var upstreamEnded = false

        init(upstream: Upstream.AsyncIterator, inflater: Inflater) {
            self.upstream = upstream
            self.inflater = inflater
        }

        /// Returns the next decompressed chunk, or `nil` at the end of the (valid) compressed stream.
        ///
        /// - Throws: ``MesosError``.
        public mutating func next() async throws -> ArraySlice<UInt8>? {
            while true {
                if let output = try self.inflater.next() {
                    return output
                }
                if self.upstreamEnded {
                    return nil
                }
                let chunk: ArraySlice<UInt8>?
                do {
                    chunk = try await self.upstream.next()
                } catch let error as MesosError {
                    throw error
                } catch is CancellationError {
                    throw MesosError(code: .cancelled, message: "Reading the compressed body was cancelled")
                } catch {
                    throw MesosError(
                        code: .transportFailure,
                        message: "Reading the compressed body failed: \(error)",
                        cause: error
                    )
                }
                guard let chunk else {
                    self.upstreamEnded = true
                    try self.inflater.finish()
                    return nil
                }
                self.inflater.push(chunk)
            }
        }
    }
}

extension DecompressedSequence: Sendable where Upstream: Sendable {}

extension AsyncSequence where Element == ArraySlice<UInt8> {
    /// Decompresses this byte stream.
    ///
    /// ```swift
    /// for try await plain in compressedChunks.decompressed(.gzip, maximumSize: 8 << 20) { … }
    /// ```
    ///
    /// - Parameters:
    ///   - format: The framing of the compressed bytes.
    ///   - maximumSize: The most decompressed bytes to accept; more throws ``MesosError/Code/recordTooLarge``.
    ///   - outputChunkSize: The largest chunk to return.
    /// - Returns: The decompressed chunks.
    public func decompressed(
        _ format: Inflater.Format,
        maximumSize: Int = Inflater.defaultMaximumOutputSize,
        outputChunkSize: Int = Inflater.defaultOutputChunkSize
    ) -> DecompressedSequence<Self> {
        DecompressedSequence(upstream: self, format: format, maximumSize: maximumSize, outputChunkSize: outputChunkSize)
    }
}
