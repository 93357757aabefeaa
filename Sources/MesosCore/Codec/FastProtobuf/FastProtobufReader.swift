import SwiftProtobuf

/// Thrown inside the fast protobuf decoders when the input is outside what they read; it never escapes them
/// (``FastEventProtobufDecoder`` then returns `nil`, the operator decoder hands the element or the record to
/// swift-protobuf).
@usableFromInline
package struct FastProtobufFallback: Error {
    /// The one value there is.
    @inlinable
    package init() {}
}

/// A cursor over protobuf bytes; every message decoder reads up to the `end` offset it is given.
///
/// It is the one implementation of the wire primitives (varints, tags, lengths, strings, fixed and varint
/// numbers, closed enums) and of the messages both fast decoders read (resources and their values,
/// reservations, labels, ids, attributes, URLs, domains): ``FastEventProtobufDecoder`` here and the operator
/// event decoder, which extends this type in MesosOperator. The primitives are `@inlinable` so that the
/// operator's message loops inline them as the scheduler decoder's do.
///
/// Every reader is strict in the same way: a field it does not decode, a singular field seen twice, an
/// unexpected wire type, an unknown enum value, invalid UTF-8, a truncated or over-long varint or tag all throw
/// ``FastProtobufFallback``.
///
/// (`@usableFromInline` on these `package` types is what lets another module inline their `@inlinable`
/// members; without it the compiler emits calls.)
@usableFromInline
package struct FastProtobufReader {
    /// The first byte of the record.
    @usableFromInline
    package let base: UnsafeRawPointer
    /// How many bytes the record has.
    @usableFromInline
    package let count: Int
    /// The offset of the next byte to read.
    @usableFromInline
    package var position = 0
    /// Shared strings of the fields that recur across offers and events.
    var strings = RecurringStrings()

    /// A reader at the start of the `count` bytes at `base`, which must stay alive and unchanged while it reads.
    package init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    /// The wire types the fast path reads.
    @usableFromInline
    package enum WireType {
        /// Varint: ints, bools, enums.
        @inlinable
        package static var varint: UInt64 { 0 }
        /// Eight little-endian bytes: doubles.
        @inlinable
        package static var fixed64: UInt64 { 1 }
        /// A length, then that many bytes: strings, bytes, messages.
        @inlinable
        package static var lengthDelimited: UInt64 { 2 }
        /// Four little-endian bytes (only skipped).
        @inlinable
        package static var fixed32: UInt64 { 5 }
    }

    /// Marks field `bit` of `seen` as read, giving up on a singular field seen twice (swift-protobuf would merge
    /// or overwrite).
    @inlinable @inline(__always)
    package static func mark(_ seen: inout UInt32, _ bit: UInt32) throws(FastProtobufFallback) {
        let mask: UInt32 = 1 << bit
        guard seen & mask == 0 else { throw FastProtobufFallback() }
        seen |= mask
    }

    // MARK: - Primitives

    /// A varint of at most 10 bytes, ending before `end` (swift-protobuf's rule: bits beyond 64 are dropped).
    @inlinable @inline(__always)
    package mutating func varint(end: Int) throws(FastProtobufFallback) -> UInt64 {
        guard self.position < end else { throw FastProtobufFallback() }
        var byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
        self.position &+= 1
        if byte & 0x80 == 0 {
            return UInt64(byte)
        }
        var value = UInt64(byte & 0x7F)
        var shift: UInt64 = 7
        while true {
            guard self.position < end, shift <= 63 else { throw FastProtobufFallback() }
            byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            value |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                return value
            }
            shift &+= 7
        }
    }

    /// The next field's number and wire type, or `nil` at `end`. Like swift-protobuf, a tag takes at most five
    /// bytes, the fifth must not exceed 15, and field 0 is invalid (anything else is declined).
    @inlinable @inline(__always)
    package mutating func tag(end: Int) throws(FastProtobufFallback) -> (field: UInt64, wireType: UInt64)? {
        guard self.position < end else { return nil }
        let first = self.base.load(fromByteOffset: self.position, as: UInt8.self)
        if first & 0x80 == 0 {
            self.position &+= 1
            guard first >> 3 != 0 else { throw FastProtobufFallback() }
            return (UInt64(first >> 3), UInt64(first & 7))
        }
        var tag: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<5 {
            guard self.position < end else { throw FastProtobufFallback() }
            let byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            if index == 4, byte > 15 { throw FastProtobufFallback() }
            tag |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                guard tag >> 3 != 0 else { throw FastProtobufFallback() }
                return (tag >> 3, tag & 7)
            }
            shift &+= 7
        }
        throw FastProtobufFallback()
    }

    /// How many times field `number` occurs from the position to `end`, without moving: the exact capacity for
    /// a repeated field. It stops counting at anything malformed (the decoding that follows then declines it).
    package func occurrences(of number: UInt64, end: Int) -> Int {
        var scan = self
        var found = 0
        do {
            while let (field, wireType) = try scan.tag(end: end) {
                if field == number { found &+= 1 }
                switch wireType {
                case WireType.varint:
                    _ = try scan.varint(end: end)
                case WireType.fixed64:
                    guard end &- scan.position >= 8 else { return found }
                    scan.position &+= 8
                case WireType.lengthDelimited:
                    scan.position = try scan.delimited(wireType, end: end)
                case WireType.fixed32:
                    guard end &- scan.position >= 4 else { return found }
                    scan.position &+= 4
                default:
                    return found
                }
            }
        } catch {
            return found
        }
        return found
    }

    /// Checks the wire type, reads a length and returns where the delimited value ends.
    @inlinable @inline(__always)
    package mutating func delimited(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Int {
        guard wireType == WireType.lengthDelimited else { throw FastProtobufFallback() }
        let length = try self.varint(end: end)
        guard length <= UInt64(end &- self.position) else { throw FastProtobufFallback() }
        return self.position &+ Int(length)
    }

    /// A length-delimited UTF-8 string.
    @inlinable
    package mutating func string(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> String {
        let stop = try self.delimited(wireType, end: end)
        return try self.string(to: stop)
    }

    /// The string of the bytes from the position to `stop`, which becomes the position.
    @inlinable @inline(__always)
    package mutating func string(to stop: Int) throws(FastProtobufFallback) -> String {
        let bytes = UnsafeBufferPointer(
            start: (self.base + self.position).assumingMemoryBound(to: UInt8.self), count: stop &- self.position)
        self.position = stop
        // ASCII (nearly every Mesos string) is valid UTF-8 as it stands: skip the generic validating initializer.
        if Self.isASCII(bytes) {
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw FastProtobufFallback() }
        return string
    }

    /// Whether every byte is below 0x80, eight bytes at a time.
    @inlinable
    package static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        var high: UInt64 = 0
        while index &+ 8 <= count {
            high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index &+= 8
        }
        while index < count {
            high |= UInt64(base[index])
            index &+= 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// A `uint64` (any varint, unchanged).
    @inlinable
    package mutating func uint64(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> UInt64 {
        guard wireType == WireType.varint else { throw FastProtobufFallback() }
        return try self.varint(end: end)
    }

    /// An `int32` (the varint's low 32 bits, as swift-protobuf reads it).
    @inlinable
    package mutating func int32(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Int32 {
        Int32(truncatingIfNeeded: try self.uint64(wireType, end: end))
    }

    /// An `int64` (the varint's 64 bits as a signed number).
    @inlinable
    package mutating func int64(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Int64 {
        Int64(bitPattern: try self.uint64(wireType, end: end))
    }

    /// A `bool` (any non-zero varint is `true`).
    @inlinable
    package mutating func bool(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Bool {
        try self.uint64(wireType, end: end) != 0
    }

    /// A `double` (fixed64, little-endian).
    @inlinable
    package mutating func double(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Double {
        guard wireType == WireType.fixed64, end &- self.position >= 8 else { throw FastProtobufFallback() }
        let bits = self.base.loadUnaligned(fromByteOffset: self.position, as: UInt64.self)
        self.position &+= 8
        return Double(bitPattern: UInt64(littleEndian: bits))
    }

    /// A closed (proto2) enum: a value the generated type does not know falls back (swift-protobuf would keep
    /// it as an unknown field).
    @inlinable
    package mutating func enumValue<Value: RawRepresentable>(
        _ type: Value.Type, _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> Value where Value.RawValue == Int {
        let raw = try self.int32(wireType, end: end)
        guard let value = Value(rawValue: Int(raw)) else { throw FastProtobufFallback() }
        return value
    }

    // MARK: - Handing on to swift-protobuf

    /// The options swift-protobuf decodes with (those of ``MesosCodec``).
    @usableFromInline
    static let swiftProtobufOptions = BinaryDecodingOptions()

    /// A message field this reader does not decode itself: swift-protobuf parses its bytes.
    @inlinable
    package mutating func message<Message: SwiftProtobuf.Message>(
        _ type: Message.Type, _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> Message {
        let stop = try self.delimited(wireType, end: end)
        defer { self.position = stop }
        return try self.swiftProtobuf(type, from: self.position, to: stop)
    }

    /// Parses `start..<stop` with swift-protobuf, as ``MesosCodec`` would (partial messages accepted).
    @inlinable
    package func swiftProtobuf<Message: SwiftProtobuf.Message>(
        _ type: Message.Type, from start: Int, to stop: Int
    ) throws(FastProtobufFallback) -> Message {
        // A copy: the parsed message must not refer to the record's memory.
        let bytes = [UInt8](UnsafeRawBufferPointer(start: self.base + start, count: stop &- start))
        do {
            return try Message(serializedBytes: bytes, partial: true, options: Self.swiftProtobufOptions)
        } catch {
            throw FastProtobufFallback()
        }
    }
}
