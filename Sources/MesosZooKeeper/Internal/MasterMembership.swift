/// One master contending for leadership: a child of the election znode named `<label>_<sequence>`.
///
/// Only the three forms Mesos has written take part; other children (`log_replicas`, unknown labels) are
/// skipped, as are names whose last `_`-separated part is not a number.
struct MasterMembership: Sendable, Hashable, Comparable {
    /// How the node's data is encoded, by label.
    enum Format: Sendable, Hashable {
        /// `json.info_NNNNNNNNNN`: MasterInfo as JSON (Mesos 0.24 and later).
        case json
        /// `info_NNNNNNNNNN`: MasterInfo as binary protobuf (before 0.24).
        case protobuf
        /// `NNNNNNNNNN`: a libprocess PID string, `master@ip:port` (the oldest form).
        case pid
    }

    /// The child's name.
    let name: String
    /// The data format its label implies.
    let format: Format
    /// The sequence number ZooKeeper appended.
    let sequence: Int64

    /// Reads a child name.
    ///
    /// - Parameter name: The child's name.
    /// - Returns: The membership, or `nil` for a child that is not a contending master.
    init?(name: String) {
        let label: Substring
        let number: Substring
        if let underscore = name.lastIndex(of: "_") {
            label = name[..<underscore]
            number = name[name.index(after: underscore)...]
        } else {
            label = ""
            number = Substring(name)
        }
        guard !number.isEmpty, number.count <= 19, number.utf8.allSatisfy({ (48...57).contains($0) }),
            let sequence = Int64(number)
        else { return nil }
        switch label {
        case "json.info": self.format = .json
        case "info": self.format = .protobuf
        case "": self.format = .pid
        default: return nil
        }
        self.name = name
        self.sequence = sequence
    }

    /// Orders by sequence (then name, for a total order).
    static func < (lhs: MasterMembership, rhs: MasterMembership) -> Bool {
        (lhs.sequence, lhs.name) < (rhs.sequence, rhs.name)
    }

    /// The leader among `children`: the contending master with the lowest sequence.
    ///
    /// - Parameter children: The election znode's child names.
    /// - Returns: The leader's membership, or `nil` when no master contends.
    static func leader(among children: [String]) -> MasterMembership? {
        children.compactMap(MasterMembership.init(name:)).min()
    }
}
