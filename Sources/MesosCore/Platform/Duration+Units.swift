/// The package's one place for turning a `Duration` into the plain numbers that C libraries, Foundation and
/// output formats want. Every conversion saturates instead of trapping: a duration too long for the result type
/// gives that type's largest value, and negative durations give zero where the unit cannot be negative.
extension Duration {
    /// The duration in seconds, with its fraction (for `TimeInterval`, JSON and printing).
    package var inSeconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded up so that a positive duration never becomes 0; 0 for zero or negative
    /// durations; `Int64.max` when the duration does not fit.
    package var inMillisecondsRoundedUp: Int64 {
        Self.whole(self, unit: 1_000_000_000_000_000, perSecond: 1000, roundUp: true)
    }

    /// Whole nanoseconds, rounded down; 0 for zero or negative durations; `Int64.max` when the duration does
    /// not fit (about 292 years).
    package var inNanoseconds: Int64 {
        Self.whole(self, unit: 1_000_000_000, perSecond: 1_000_000_000, roundUp: false)
    }

    /// A duration of `seconds` (a number from the wire, a flag, a computation), to the nanosecond, saturating:
    /// NaN and negative values give zero, values beyond `Int64.max` nanoseconds (about 292 years), infinity
    /// included, give that.
    package init(saturatingSeconds seconds: Double) {
        guard seconds.isFinite else {
            self = seconds.isNaN || seconds < 0 ? .zero : .nanoseconds(Int64.max)
            return
        }
        let nanoseconds = (seconds * 1e9).rounded()
        if nanoseconds <= 0 {
            self = .zero
        } else if nanoseconds >= 9.223372036854775e18 {
            self = .nanoseconds(Int64.max)
        } else {
            self = .nanoseconds(Int64(nanoseconds))
        }
    }

    /// Whole units of a duration that is `unit` attoseconds long, `perSecond` to the second, saturating.
    private static func whole(_ duration: Duration, unit: Int64, perSecond: Int64, roundUp: Bool) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 || (seconds == 0 && attoseconds > 0) else {
            return 0
        }
        // components keeps attoseconds in 0..<1e18 with the sign of seconds, so both are non-negative here.
        let fraction = roundUp ? (attoseconds + unit - 1) / unit : attoseconds / unit
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        guard !overflow else {
            return .max
        }
        let (total, carry) = scaled.addingReportingOverflow(fraction)
        return carry ? .max : total
    }
}
