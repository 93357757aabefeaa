extension Duration {
    /// Parses a duration as Mesos writes it in flags and in an executor's environment (stout's format):
    /// a number of digits and at most one `.` (no sign, no exponent) directly followed by exactly one unit of
    /// `ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days` or `weeks`: `15mins`, `2secs`, `1500ms`, `2.5hrs`.
    ///
    /// - Parameter text: The duration string.
    /// - Returns: The duration (to the nanosecond, saturating), or `nil` when `text` is not in that format.
    public init?(stout text: String) {
        let units: [(suffix: String, seconds: Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("secs", 1), ("mins", 60), ("hrs", 3600),
            ("days", 86_400), ("weeks", 604_800),
        ]
        // Longest suffix first: `mins` also ends in `ns`.
        guard let unit = units.sorted(by: { $0.suffix.count > $1.suffix.count }).first(where: { text.hasSuffix($0.suffix) })
        else { return nil }
        let number = text.dropLast(unit.suffix.count)
        guard !number.isEmpty, number != ".",
            number.allSatisfy({ $0 == "." || ("0"..."9").contains($0) }),
            number.filter({ $0 == "." }).count <= 1,
            let value = Double(number)
        else {
            return nil
        }
        self.init(saturatingSeconds: value * unit.seconds)
    }
}
