import Testing

@testable import MesosCore

@Suite("Duration conversions")
struct DurationUnitsTests {
    @Test("seconds keep the fraction")
    func seconds() {
        #expect(Duration.milliseconds(1500).inSeconds == 1.5)
        #expect(Duration.zero.inSeconds == 0)
        #expect(Duration.milliseconds(-250).inSeconds == -0.25)
    }

    @Test("milliseconds round up, never give 0 for a positive duration, and saturate")
    func milliseconds() {
        #expect(Duration.milliseconds(300).inMillisecondsRoundedUp == 300)
        #expect(Duration.nanoseconds(1).inMillisecondsRoundedUp == 1)
        #expect(Duration.microseconds(1001).inMillisecondsRoundedUp == 2)
        #expect(Duration.seconds(2).inMillisecondsRoundedUp == 2000)
        #expect(Duration.zero.inMillisecondsRoundedUp == 0)
        #expect(Duration.seconds(-3).inMillisecondsRoundedUp == 0)
        #expect(Duration.seconds(Int64.max).inMillisecondsRoundedUp == Int64.max)
        #expect(Duration.seconds(Int64.max / 1000).inMillisecondsRoundedUp == (Int64.max / 1000) * 1000)
    }

    @Test("seconds from a Double saturate: NaN, negatives, infinity and absurd values never trap")
    func fromSeconds() {
        #expect(Duration(saturatingSeconds: 1.5) == .milliseconds(1500))
        #expect(Duration(saturatingSeconds: 0.0000000004) == .zero)
        #expect(Duration(saturatingSeconds: -2) == .zero)
        #expect(Duration(saturatingSeconds: .nan) == .zero)
        #expect(Duration(saturatingSeconds: -.infinity) == .zero)
        #expect(Duration(saturatingSeconds: .infinity) == .nanoseconds(Int64.max))
        #expect(Duration(saturatingSeconds: 1e300) == .nanoseconds(Int64.max))
        #expect(Duration(saturatingSeconds: 9.3e9) == .nanoseconds(Int64.max))
        #expect(Duration(saturatingSeconds: 9.2e9) == .seconds(9_200_000_000))
    }

    @Test("nanoseconds round down and saturate instead of trapping")
    func nanoseconds() {
        #expect(Duration.milliseconds(20).inNanoseconds == 20_000_000)
        #expect(Duration.seconds(1).inNanoseconds + Duration.nanoseconds(1).inNanoseconds == 1_000_000_001)
        #expect((Duration.seconds(1) + .nanoseconds(1)).inNanoseconds == 1_000_000_001)
        #expect(Duration.milliseconds(-5).inNanoseconds == 0)
        #expect(Duration.seconds(Int64.max).inNanoseconds == Int64.max)
        #expect(Duration.seconds(300 * 365 * 24 * 3600).inNanoseconds == Int64.max)
    }
}
