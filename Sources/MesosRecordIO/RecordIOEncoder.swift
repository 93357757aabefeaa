/// Writes records in RecordIO framing: the record's length in decimal, a newline, then the record's bytes.
///
/// ```swift
/// var stream: [UInt8] = []
/// RecordIOEncoder.append(Array(#"{"type":"HEARTBEAT"}"#.utf8), to: &stream)
/// // stream == Array("20\n{\"type\":\"HEARTBEAT\"}".utf8)
/// ```
public enum RecordIOEncoder {
    /// Appends one framed record to `stream`.
    ///
    /// - Parameters:
    ///   - record: The record's bytes.
    ///   - stream: The buffer to append to.
    public static func append(_ record: some Collection<UInt8>, to stream: inout [UInt8]) {
        let digits = String(record.count).utf8
        stream.reserveCapacity(stream.count + digits.count + 1 + record.count)
        stream.append(contentsOf: digits)
        stream.append(UInt8(ascii: "\n"))
        stream.append(contentsOf: record)
    }

    /// Returns one framed record.
    ///
    /// - Parameter record: The record's bytes.
    /// - Returns: The length, a newline and the record.
    public static func encode(_ record: some Collection<UInt8>) -> [UInt8] {
        var stream: [UInt8] = []
        self.append(record, to: &stream)
        return stream
    }

    /// Returns several records framed one after another.
    ///
    /// - Parameter records: The records, in order.
    /// - Returns: The concatenated stream.
    public static func encode<Records: Sequence>(records: Records) -> [UInt8]
    where Records.Element: Collection<UInt8> {
        var stream: [UInt8] = []
        for record in records {
            self.append(record, to: &stream)
        }
        return stream
    }
}
