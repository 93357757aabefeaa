import Foundation
import MesosCore

// READ_FILE and LIST_FILES through the agent's operator client.
extension TaskFiles {
    func operatorRead(path: String, offset: UInt64, length: UInt64) async throws(MesosError) -> Page {
        do {
            let answer = try await self.agentOperator.readFile(path: path, offset: offset, length: length)
            return Page(data: [UInt8](answer.data), size: answer.size)
        } catch {
            throw self.onAgent(error, what: "READ_FILE \(path)")
        }
    }

    func operatorList(path: String) async throws(MesosError) -> [TaskFileInfo] {
        let answer: AgentResponse.ListFiles
        do {
            answer = try await self.agentOperator.listFiles(path: path)
        } catch {
            throw self.onAgent(error, what: "LIST_FILES \(path)")
        }
        return answer.fileInfos.map { info in
            TaskFileInfo(
                path: info.path,
                size: info.size,
                linkCount: Int(info.nlink),
                mode: TaskFileInfo.modeString(info.mode),
                modificationTime: info.mtime.nanoseconds / 1_000_000_000,
                user: info.uid,
                group: info.gid
            )
        }
    }

    /// The error with the call and the agent named in its message.
    func onAgent(_ error: MesosError, what: String) -> MesosError {
        var error = error
        error.message = "\(what) on agent \(self.agent): \(error.message)"
        return error
    }

    /// A non-negative integer from a JSON number or a decimal string (protobuf JSON writes 64-bit numbers
    /// either way).
    static func unsigned(_ value: Any?) -> UInt64? {
        switch value {
        case let number as NSNumber:
            let double = number.doubleValue
            guard double >= 0, double == double.rounded(), double < 1.8e19 else { return nil }
            return number.uint64Value
        case let text as String:
            return UInt64(text)
        default:
            return nil
        }
    }

    /// An integer from a JSON number or a decimal string.
    static func signed(_ value: Any?) -> Int64? {
        switch value {
        case let number as NSNumber:
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 9.2e18 else { return nil }
            return number.int64Value
        case let text as String:
            return Int64(text)
        default:
            return nil
        }
    }
}
