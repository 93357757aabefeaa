import Foundation
import MesosCore
import MesosRecordIO

// mesos-decode: reads a captured scheduler event stream (RecordIO-framed, as a master writes it) from a file or
// standard input and prints one line per typed event.

let usage = """
    usage: mesos-decode [--content-type json|protobuf] [--json] [FILE]
      Decodes a RecordIO-framed Mesos scheduler event stream (default: standard input).
      --content-type  encoding of the records (default json)
      --json          print each event as compact JSON with proto field names
    """

var contentType = MesosContentType.json
var printJSON = false
var path: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--content-type":
        guard let value = arguments.popFirst(), let parsed = MesosContentType(name: value) else {
            FileHandle.standardError.write(Data("mesos-decode: --content-type needs json or protobuf\n".utf8))
            exit(2)
        }
        contentType = parsed
    case "--json":
        printJSON = true
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        if argument.hasPrefix("-") || path != nil {
            FileHandle.standardError.write(Data("mesos-decode: unexpected argument '\(argument)'\n\(usage)\n".utf8))
            exit(2)
        }
        path = argument
    }
}

let input: Data
if let path {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("mesos-decode: cannot read \(path)\n".utf8))
        exit(1)
    }
    input = data
} else {
    input = FileHandle.standardInput.readDataToEndOfFile()
}

let codec = MesosCodec(contentType)
let jsonCodec = MesosCodec(.json)
var decoder = RecordIODecoder()
decoder.append([UInt8](input))
var count = 0
do {
    while let record = try decoder.next() {
        count += 1
        let event = try codec.decodeEvent(record)
        if printJSON {
            print(String(decoding: try jsonCodec.encode(event.wireMessage), as: UTF8.self))
        } else {
            print("\(count)\t\(event.typeName)\t\(record.count) bytes\t\(EventSummary.describe(event))")
        }
    }
    try decoder.finish()
} catch let error as RecordIOError {
    FileHandle.standardError.write(Data("mesos-decode: \(MesosError.recordIO(error))\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("mesos-decode: record \(count): \(error)\n".utf8))
    exit(1)
}
