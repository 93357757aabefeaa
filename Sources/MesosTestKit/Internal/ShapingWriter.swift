import MesosCore

/// Applies ``FakeMasterFault/rechunk(_:)`` and ``FakeMasterFault/slowStream(delay:bytesPerWrite:)`` to a body.
final class ShapingWriter: FakeMasterBodyWriter {
    let base: any FakeMasterBodyWriter
    /// Largest piece per write (`nil`: writes pass through whole).
    let fixedSize: Int?
    /// Random piece sizes, drawn from `random`.
    let randomSizes: ClosedRange<Int>?
    let random: LockedValue<SplitMix64>
    /// Sleep before every write but the first.
    let delay: Duration?
    private let started = LockedValue(false)

    init(base: any FakeMasterBodyWriter, fixedSize: Int?, randomSizes: ClosedRange<Int>?, seed: UInt64, delay: Duration?) {
        self.base = base
        self.fixedSize = fixedSize.map { max(1, $0) }
        self.randomSizes = randomSizes.map { max(1, $0.lowerBound)...max(1, $0.upperBound) }
        self.random = LockedValue(SplitMix64(seed: seed))
        self.delay = delay
    }

    func noteSilenced() {
        self.base.noteSilenced()
    }

    var isHeldBack: Bool {
        self.base.isHeldBack
    }

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        var rest = bytes
        while !rest.isEmpty {
            let size: Int
            if let randomSizes = self.randomSizes {
                size = self.random.withLock { Int.random(in: randomSizes, using: &$0) }
            } else {
                size = self.fixedSize ?? rest.count
            }
            let piece = rest.prefix(size)
            rest = rest.dropFirst(piece.count)
            if let delay = self.delay {
                let first = self.started.withLock { started in
                    defer { started = true }
                    return !started
                }
                if !first {
                    try await Task.sleep(for: delay)
                }
            }
            try await self.base.write(piece)
        }
    }
}
