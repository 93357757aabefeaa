/// The strings that recur from offer to offer of a scheduler event stream (the framework id in every offer, the
/// agent ids and hostnames of a cluster's agents, an offer's hostname repeated in its URL), kept so that decoding
/// them again shares the string already made instead of allocating a new one.
///
/// The fast decoders use it only for those fields: offer ids and other values that are new in every event are
/// not looked up. It also keeps the protobuf decoder's ``RecurringRuns`` of resources and attributes. Strings of at most 15 UTF-8 bytes are stored inline by `String` and never allocate, so they
/// skip it too. A slot holds the last string whose bytes hashed to it; a lookup compares the bytes in full, so
/// a hit is always the same string.
struct RecurringStrings {
    /// How many strings are kept (a power of two).
    static let slotCount = 32

    private var slots: ContiguousArray<String>
    /// The resources of an offer (its run of `resources` fields), by their bytes.
    var resourceRuns = RecurringRuns<[Mesos_V1_Resource]>()
    /// The attributes of an offer (its run of `attributes` fields), by their bytes.
    var attributeRuns = RecurringRuns<[Mesos_V1_Attribute]>()

    /// An empty table (it allocates its slots on the first ``store(_:at:)``).
    init() {
        self.slots = []
    }

    /// The string of `bytes` if it is in the table, else `nil` and the slot to ``store(_:at:)`` it in.
    @inline(__always)
    func lookUp(_ bytes: UnsafeBufferPointer<UInt8>) -> (hit: String?, slot: Int) {
        let slot = Self.slot(of: bytes, slotCount: Self.slotCount)
        guard !self.slots.isEmpty else { return (nil, slot) }
        let candidate = self.slots[slot]
        let equal = candidate.utf8.withContiguousStorageIfAvailable { stored -> Bool in
            Self.equal(stored, bytes)
        }
        return (equal == true ? candidate : nil, slot)
    }

    /// Keeps `string` in `slot` (from ``lookUp(_:)``).
    @inline(__always)
    mutating func store(_ string: String, at slot: Int) {
        if self.slots.isEmpty {
            self.slots = ContiguousArray(repeating: "", count: Self.slotCount)
        }
        self.slots[slot] = string
    }

    /// A hash of the length and every byte, eight at a time, as a slot of a table of `slotCount` (a power of two).
    @inline(__always)
    static func slot(of bytes: UnsafeBufferPointer<UInt8>, slotCount: Int) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let count = bytes.count
        var hash = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        var index = 0
        while index &+ 8 <= count {
            hash = (hash ^ UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) &* 0x100_0000_01B3
            index &+= 8
        }
        if index < count, count >= 8 {
            // The last eight bytes (overlapping what was read): the tail without a byte loop.
            hash = (hash ^ UnsafeRawPointer(base + (count &- 8)).loadUnaligned(as: UInt64.self)) &* 0x100_0000_01B3
        } else {
            while index < count {
                hash = (hash ^ UInt64(base[index])) &* 0x100_0000_01B3
                index &+= 1
            }
        }
        return Int(truncatingIfNeeded: (hash ^ (hash >> 29)) & UInt64(slotCount - 1))
    }

    /// Whether two byte runs are equal, eight bytes at a time.
    @inline(__always)
    static func equal(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = lhs.count
        guard count == rhs.count else { return false }
        guard let left = lhs.baseAddress, let right = rhs.baseAddress else { return count == 0 }
        var index = 0
        while index &+ 8 <= count {
            if UnsafeRawPointer(left + index).loadUnaligned(as: UInt64.self)
                != UnsafeRawPointer(right + index).loadUnaligned(as: UInt64.self)
            {
                return false
            }
            index &+= 8
        }
        while index < count {
            if left[index] != right[index] { return false }
            index &+= 1
        }
        return true
    }
}

/// Decoded runs of repeated fields that recur from offer to offer: an agent's attributes never change, and its
/// resources stay the same from one offer to the next until tasks start or end on it. A run is the bytes of the
/// consecutive fields (tags included) of one offer; when the same bytes come again the decoded array is shared
/// instead of being decoded and allocated again. A slot holds the last run whose bytes hashed to it, with a copy
/// of those bytes: a lookup compares them in full, so a hit is always the value those very bytes decode to.
struct RecurringRuns<Value: Sendable>: Sendable {
    /// How many runs are kept (a power of two).
    static var slotCount: Int { 16 }

    private var keys: ContiguousArray<[UInt8]> = []
    private var values: ContiguousArray<Value?> = []

    /// An empty table (it allocates its slots on the first ``store(_:bytes:at:)``).
    init() {}

    /// The value decoded from `bytes` if they are in the table, else `nil` and the slot to store it in.
    @inline(__always)
    func lookUp(_ bytes: UnsafeBufferPointer<UInt8>) -> (hit: Value?, slot: Int) {
        let slot = RecurringStrings.slot(of: bytes, slotCount: Self.slotCount)
        guard !self.keys.isEmpty, let value = self.values[slot] else { return (nil, slot) }
        let equal = self.keys[slot].withUnsafeBufferPointer { RecurringStrings.equal($0, bytes) }
        return (equal ? value : nil, slot)
    }

    /// Keeps `value`, decoded from `bytes`, in `slot` (from ``lookUp(_:)``).
    @inline(__always)
    mutating func store(_ value: Value, bytes: UnsafeBufferPointer<UInt8>, at slot: Int) {
        if self.keys.isEmpty {
            self.keys = ContiguousArray(repeating: [], count: Self.slotCount)
            self.values = ContiguousArray(repeating: nil, count: Self.slotCount)
        }
        self.keys[slot] = Array(bytes)
        self.values[slot] = value
    }
}
