import MesosCore
import SwiftProtobuf

/// Encodes operator calls and decodes operator answers exactly as Mesos reads and writes them.
///
/// JSON uses proto field names and enum names (``MesosCodec``), with one Mesos quirk handled:
/// `DrainAgent.max_grace_period` is a `google.protobuf.Duration`, which Mesos's JSON parser reads as a plain
/// message, `{"seconds":600,"nanos":0}`, not the proto3 form `"600s"`. Decoding skips unknown fields and
/// unknown enum values in both encodings.
public enum OperatorWire {
    /// Serializes a master call.
    ///
    /// - Parameters:
    ///   - call: The call.
    ///   - contentType: JSON or protobuf.
    /// - Returns: The body bytes.
    /// - Throws: ``MesosError/Code/encodingFailed``.
    public static func encode(_ call: MasterCall, as contentType: MesosContentType) throws(MesosError) -> [UInt8] {
        let codec = MesosCodec(contentType)
        guard contentType == .json, call.hasDrainAgent, call.drainAgent.hasMaxGracePeriod else {
            return try codec.encode(call)
        }
        var stripped = call
        let period = call.drainAgent.maxGracePeriod
        stripped.drainAgent.clearMaxGracePeriod()
        var bytes = try codec.encode(stripped)
        // The writer puts no whitespace between tokens, and a key with unescaped quotes cannot occur inside a
        // string value, so the first match is the `drain_agent` object's opening.
        let key = Array(#""drain_agent":{"#.utf8)
        guard let start = Self.firstRange(of: key, in: bytes) else {
            throw MesosError(code: .encodingFailed, message: "Cannot place DrainAgent.max_grace_period in the JSON body")
        }
        var field = Array(#""max_grace_period":{"seconds":\#(period.seconds),"nanos":\#(period.nanos)}"#.utf8)
        if bytes[start.upperBound] != UInt8(ascii: "}") {
            field.append(UInt8(ascii: ","))
        }
        bytes.insert(contentsOf: field, at: start.upperBound)
        return bytes
    }

    /// Serializes an agent call.
    ///
    /// - Parameters:
    ///   - call: The call.
    ///   - contentType: JSON or protobuf.
    /// - Returns: The body bytes.
    /// - Throws: ``MesosError/Code/encodingFailed``.
    public static func encode(_ call: AgentCall, as contentType: MesosContentType) throws(MesosError) -> [UInt8] {
        try MesosCodec(contentType).encode(call)
    }

    /// Parses any operator message (a `Response`, an `Event`, a `ProcessIO`, …).
    ///
    /// - Parameters:
    ///   - type: The message type.
    ///   - bytes: The serialized message.
    ///   - contentType: JSON or protobuf.
    /// - Returns: The message.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public static func decode<Message: SwiftProtobuf.Message>(
        _ type: Message.Type, from bytes: some Collection<UInt8>, as contentType: MesosContentType
    ) throws(MesosError) -> Message {
        try MesosCodec(contentType).decode(type, from: ArraySlice(bytes))
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count, !needle.isEmpty else { return nil }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index..<(index + needle.count)
            }
            index += 1
        }
        return nil
    }
}
