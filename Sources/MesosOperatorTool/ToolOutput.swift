import Foundation
import MesosCore
import SwiftProtobuf

/// The `--json` form of an answer: the answer's message as one JSON document, with Mesos's field names
/// (`framework_id`) and enum names (`TASK_FINISHED`), as SwiftProtobuf writes JSON with the proto names.
enum ToolOutput {
    /// The message as one line of JSON.
    static func json(_ message: some SwiftProtobuf.Message) throws -> String {
        String(decoding: try MesosCodec(.json).encode(message), as: UTF8.self) + "\n"
    }

    /// Prints the human rendering, or the JSON document with `--json`.
    static func emit<Message: SwiftProtobuf.Message>(_ message: Message, json: Bool, render: (Message) -> String) throws {
        toolPrint(json ? try self.json(message) : render(message))
    }
}
