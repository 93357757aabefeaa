/// A scalar resource value in Mesos's three-decimal fixed point.
///
/// Mesos never compares or adds scalar doubles directly: it converts each to thousandths with
/// `llround(v * 1000)` (half away from zero), does integer arithmetic, and converts back with
/// `Double(f / 1000) + Double(f % 1000) / 1000`. This type does the same, so `0.1 + 0.2` is exactly the
/// double `0.3`, `1.5123` is `1.512` and `1.0001 == 1.0`.
///
/// Arithmetic saturates at the ends of `Int64` instead of trapping.
public struct FixedScalar: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The value in thousandths.
    public let thousandths: Int64

    /// The largest magnitude (exclusive) of `v * 1000` that converts without overflowing `Int64` (2^63).
    static let limit: Double = 9_223_372_036_854_775_808.0

    /// Creates a value from thousandths.
    ///
    /// - Parameter thousandths: The value times 1000.
    public init(thousandths: Int64) {
        self.thousandths = thousandths
    }

    /// Converts a double the way Mesos does (`llround(v * 1000)`).
    ///
    /// - Parameter value: The double.
    /// - Returns: `nil` when the value is NaN, infinite, or too large to convert (|v| ≥ about 9.2e15),
    ///   where C's `llround` is undefined and Swift would trap.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        let product = (value * 1000).rounded(.toNearestOrAwayFromZero)
        guard product.isFinite, product > -Self.limit, product < Self.limit else { return nil }
        self.thousandths = Int64(product)
    }

    /// Zero.
    public static let zero = FixedScalar(thousandths: 0)

    /// The value as Mesos converts it back to a double.
    public var doubleValue: Double {
        Double(self.thousandths / 1000) + Double(self.thousandths % 1000) / 1000.0
    }

    /// Whether the value is zero (Mesos treats such a scalar resource as empty).
    public var isZero: Bool { self.thousandths == 0 }

    /// The sum, saturating at the ends of `Int64`.
    public static func + (lhs: FixedScalar, rhs: FixedScalar) -> FixedScalar {
        let (sum, overflow) = lhs.thousandths.addingReportingOverflow(rhs.thousandths)
        if overflow { return FixedScalar(thousandths: rhs.thousandths > 0 ? .max : .min) }
        return FixedScalar(thousandths: sum)
    }

    /// The difference, saturating at the ends of `Int64`.
    public static func - (lhs: FixedScalar, rhs: FixedScalar) -> FixedScalar {
        let (difference, overflow) = lhs.thousandths.subtractingReportingOverflow(rhs.thousandths)
        if overflow { return FixedScalar(thousandths: rhs.thousandths < 0 ? .max : .min) }
        return FixedScalar(thousandths: difference)
    }

    /// Orders by value.
    public static func < (lhs: FixedScalar, rhs: FixedScalar) -> Bool {
        lhs.thousandths < rhs.thousandths
    }

    /// The exact decimal form with at most three fractional digits: `1`, `1.5`, `0.001`, `-2.25`.
    public var description: String {
        let negative = self.thousandths < 0
        let magnitude = self.thousandths.magnitude
        let whole = magnitude / 1000
        let fraction = magnitude % 1000
        var text = negative ? "-\(whole)" : "\(whole)"
        if fraction != 0 {
            var digits = String(fraction)
            while digits.count < 3 { digits = "0" + digits }
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }
}

/// Helpers that apply Mesos's fixed-point rule to plain doubles.
extension Double {
    /// This value rounded to Mesos's three-decimal fixed point, or `nil` when it cannot be converted
    /// (NaN, infinite, or |v| ≥ about 9.2e15).
    public var mesosFixedPoint: Double? {
        FixedScalar(self)?.doubleValue
    }
}
