import SwiftProtobuf

/// Encodes calls and decodes events in one of the two Mesos encodings.
///
/// JSON follows what Mesos parses and writes: proto field names (`framework_id`, never `frameworkId`), enum
/// names, padded standard base64 for bytes, 64-bit integers accepted as numbers or strings, `"Infinity"` for
/// infinite doubles. Decoding ignores unknown fields and unknown enum values in both encodings, so a newer
/// master never breaks an older client; an event whose type is unknown becomes
/// ``SchedulerEvent/unknown(_:)``.
///
/// ```swift
/// let codec = MesosCodec(.json)
/// let body = try codec.encode(SchedulerCall.revive(roles: ["batch"], frameworkID: id))
/// let event = try codec.decodeEvent(record)
/// ```
public struct MesosCodec: Sendable, Hashable {
    /// The encoding.
    public let contentType: MesosContentType

    /// Creates a codec.
    ///
    /// - Parameter contentType: JSON or protobuf.
    public init(_ contentType: MesosContentType) {
        self.contentType = contentType
    }

    private static let jsonEncoding: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }()

    private static let jsonDecoding: JSONDecodingOptions = {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return options
    }()

    private static let binaryDecoding = BinaryDecodingOptions()

    /// Serializes any wire message.
    ///
    /// - Parameter message: The message, typically a ``SchedulerCall``.
    /// - Returns: The body bytes.
    /// - Throws: ``MesosError/Code/encodingFailed``.
    public func encode(_ message: some SwiftProtobuf.Message) throws(MesosError) -> [UInt8] {
        do {
            switch self.contentType {
            case .json:
                return try message.jsonUTF8Bytes(options: Self.jsonEncoding)
            default:
                return try message.serializedBytes(partial: true)
            }
        } catch {
            throw MesosError(
                code: .encodingFailed,
                message: "Cannot encode \(type(of: message)) as \(self.contentType): \(error)",
                cause: error
            )
        }
    }

    /// Parses any wire message.
    ///
    /// - Parameters:
    ///   - type: The message type.
    ///   - bytes: The serialized message.
    /// - Returns: The message. Unknown fields and enum values are skipped.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public func decode<Message: SwiftProtobuf.Message>(
        _ type: Message.Type,
        from bytes: ArraySlice<UInt8>
    ) throws(MesosError) -> Message {
        do {
            let view = ByteSliceView(bytes)
            switch self.contentType {
            case .json:
                return try Message(jsonUTF8Bytes: view, options: Self.jsonDecoding)
            default:
                return try Message(serializedBytes: view, partial: true, options: Self.binaryDecoding)
            }
        } catch {
            throw MesosError(
                code: .decodingFailed,
                message: "Cannot decode \(type) from \(bytes.count) bytes of \(self.contentType): \(error)",
                cause: error
            )
        }
    }

    /// Parses one event record into a typed event.
    ///
    /// - Parameter bytes: One RecordIO record of the event stream.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public func decodeEvent(_ bytes: ArraySlice<UInt8>) throws(MesosError) -> SchedulerEvent {
        var strings = RecurringStrings()
        return try self.decodeEvent(bytes, strings: &strings)
    }

    /// Parses one event record of a stream, sharing the strings that recur across events (framework and agent
    /// ids, hostnames) with the events decoded before with the same `state`: fewer allocations. A reader keeps
    /// one state per stream.
    ///
    /// - Parameters:
    ///   - bytes: One RecordIO record of the event stream.
    ///   - state: The stream's decoding state.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public func decodeEvent(
        _ bytes: ArraySlice<UInt8>, state: inout MesosStreamDecodingState
    ) throws(MesosError) -> SchedulerEvent {
        try self.decodeEvent(bytes, strings: &state.strings)
    }

    /// Parses one event record, sharing the strings that recur across events (framework and agent ids,
    /// hostnames) with the events decoded before with the same `strings`: the stream readers keep one.
    func decodeEvent(_ bytes: ArraySlice<UInt8>, strings: inout RecurringStrings) throws(MesosError) -> SchedulerEvent {
        // The purpose-built decoders first (FastJSON/, FastProtobuf/), swift-protobuf for whatever they do not
        // handle.
        let fast = self.contentType == .json
            ? FastEventJSONDecoder.decode(bytes, strings: &strings)
            : FastEventProtobufDecoder.decode(bytes, strings: &strings)
        let message: SchedulerEventMessage
        if let fast {
            message = fast
        } else {
            message = try self.decode(SchedulerEventMessage.self, from: bytes)
        }
        if message.type == .unknown {
            return SchedulerEvent(message, rawType: self.rawEventType(in: bytes))
        }
        return SchedulerEvent(message)
    }

    /// Serializes a call.
    ///
    /// - Parameter call: The call.
    /// - Returns: The request body.
    /// - Throws: ``MesosError/Code/encodingFailed``.
    public func encode(call: SchedulerCall) throws(MesosError) -> [UInt8] {
        try self.encode(call)
    }

    /// Finds the `type` of an event whose type this library does not know, as written on the wire.
    private func rawEventType(in bytes: ArraySlice<UInt8>) -> String? {
        switch self.contentType {
        case .json:
            guard let object = try? Google_Protobuf_Struct(jsonUTF8Bytes: ByteSliceView(bytes)),
                let value = object.fields["type"]
            else {
                return nil
            }
            switch value.kind {
            case .stringValue(let name): return name
            case .numberValue(let number): return String(Int(number))
            default: return nil
            }
        default:
            return ProtobufScanner.firstVarint(field: 1, in: bytes).map { String($0) }
        }
    }
}

/// Lets swift-protobuf read an `ArraySlice<UInt8>` in place, without copying it into an `Array`.
struct ByteSliceView: SwiftProtobufContiguousBytes {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    init(repeating: UInt8, count: Int) {
        self.bytes = ArraySlice(repeating: repeating, count: count)
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        self.bytes = ArraySlice(sequence)
    }

    var count: Int { self.bytes.count }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try self.bytes.withUnsafeBytes(body)
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try self.bytes.withUnsafeMutableBytes(body)
    }
}

/// A minimal reader of top-level protobuf fields, used only to recover an unknown enum number.
enum ProtobufScanner {
    /// Returns the value of the first varint field with number `field` at the top level of `bytes`.
    static func firstVarint(field: Int, in bytes: ArraySlice<UInt8>) -> UInt64? {
        var index = bytes.startIndex
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.endIndex, shift < 64 {
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        while index < bytes.endIndex {
            guard let key = varint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let value = varint() else { return nil }
                if number == field { return value }
            case 1:
                index += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return nil }
                index += Int(length)
            case 5:
                index += 4
            default:
                return nil
            }
        }
        return nil
    }
}
