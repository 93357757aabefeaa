/// How long to wait before each new subscription attempt: exponential growth with full jitter.
///
/// The delay before attempt `n` (counting from 1) is a uniformly random duration between zero and
/// `min(maximum, initial × multiplier^(n-1))`. Full jitter spreads many reconnecting schedulers out so that a
/// recovering master is not hit by all of them at once.
public struct BackoffPolicy: Sendable, Hashable {
    /// The ceiling of the first delay.
    public var initial: Duration
    /// The largest ceiling any delay may have.
    public var maximum: Duration
    /// The factor the ceiling grows by per attempt.
    public var multiplier: Double
    /// Whether to draw the delay at random below the ceiling (`true`) or to wait the full ceiling.
    public var jitter: Bool

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - initial: The ceiling of the first delay (default 500 ms).
    ///   - maximum: The cap of every delay (default 15 s, as Mesos's own scheduler library).
    ///   - multiplier: Growth per attempt (default 2).
    ///   - jitter: Full jitter on (default) or off.
    public init(
        initial: Duration = .milliseconds(500),
        maximum: Duration = .seconds(15),
        multiplier: Double = 2,
        jitter: Bool = true
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The default policy: 500 ms doubling up to 15 s, with full jitter.
    public static let `default` = BackoffPolicy()

    /// The ceiling for a given attempt, before jitter.
    ///
    /// - Parameter attempt: The attempt number, starting at 1.
    /// - Returns: `min(maximum, initial × multiplier^(attempt-1))`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let initialSeconds = Self.seconds(self.initial)
        let maximumSeconds = Self.seconds(self.maximum)
        var value = initialSeconds
        var step = 1
        while step < attempt, value < maximumSeconds {
            value *= self.multiplier
            step += 1
        }
        return Self.duration(min(value, maximumSeconds))
    }

    /// The delay to wait before a given attempt.
    ///
    /// - Parameters:
    ///   - attempt: The attempt number, starting at 1.
    ///   - generator: The source of randomness for the jitter.
    /// - Returns: A duration between zero and ``ceiling(forAttempt:)``.
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = Self.seconds(self.ceiling(forAttempt: attempt))
        guard self.jitter, ceiling > 0 else {
            return Self.duration(ceiling)
        }
        return Self.duration(Double.random(in: 0...ceiling, using: &generator))
    }

    private static func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }

    private static func duration(_ seconds: Double) -> Duration {
        Duration(saturatingSeconds: seconds)
    }
}

/// A small, fast, seedable random number generator (SplitMix64), so that jittered delays are reproducible in
/// tests and need no shared state.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// Creates a generator from a seed.
    ///
    /// - Parameter seed: Any 64-bit value; equal seeds give equal sequences.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates a generator seeded from the system's random source.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.state = system.next()
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
