import Foundation
import MesosCore

// READ_FILE and LIST_FILES at the agent's operator endpoint, in JSON (`mesos.v1.agent.Call`, §4.2 of the fact
// sheet): the request carries `read_file {path, offset, length}` / `list_files {path}`; the answer's
// `read_file.data` is base64 and `read_file.size` the file's whole size.
extension TaskFiles {
    func operatorRead(path: String, offset: UInt64, length: UInt64) async throws(MesosError) -> Page {
        let call: [String: Any] = [
            "type": "READ_FILE",
            "read_file": ["path": path, "offset": offset, "length": length] as [String: Any],
        ]
        let object = try await self.operatorCall(call, what: "READ_FILE \(path)", limit: 1 << 20)
        guard let readFile = object["read_file"] as? [String: Any] else {
            throw MesosError(code: .decodingFailed, message: "READ_FILE \(path): the answer has no read_file")
        }
        guard let size = Self.unsigned(readFile["size"]) else {
            throw MesosError(code: .decodingFailed, message: "READ_FILE \(path): the answer has no valid size")
        }
        let data: [UInt8]
        switch readFile["data"] {
        case nil:
            data = []
        case let text as String:
            guard let decoded = Data(base64Encoded: text) else {
                throw MesosError(code: .decodingFailed, message: "READ_FILE \(path): data is not base64")
            }
            data = [UInt8](decoded)
        default:
            throw MesosError(code: .decodingFailed, message: "READ_FILE \(path): data is not a string")
        }
        return Page(data: data, size: size)
    }

    func operatorList(path: String) async throws(MesosError) -> [TaskFileInfo] {
        let call: [String: Any] = ["type": "LIST_FILES", "list_files": ["path": path]]
        let object = try await self.operatorCall(call, what: "LIST_FILES \(path)", limit: 16 << 20)
        let listFiles = object["list_files"] as? [String: Any] ?? [:]
        guard let infos = (listFiles["file_infos"] ?? [Any]()) as? [[String: Any]] else {
            throw MesosError(code: .decodingFailed, message: "LIST_FILES \(path): file_infos is not a list")
        }
        return try infos.map { info throws(MesosError) in
            guard let entryPath = info["path"] as? String else {
                throw MesosError(code: .decodingFailed, message: "LIST_FILES \(path): an entry has no path")
            }
            let mtime = (info["mtime"] as? [String: Any]).flatMap { Self.signed($0["nanoseconds"]) } ?? 0
            return TaskFileInfo(
                path: entryPath,
                size: Self.unsigned(info["size"]) ?? 0,
                linkCount: Int(clamping: Self.signed(info["nlink"]) ?? 1),
                mode: TaskFileInfo.modeString(UInt32(truncatingIfNeeded: Self.unsigned(info["mode"]) ?? 0)),
                modificationTime: mtime / 1_000_000_000,
                user: info["uid"] as? String ?? "",
                group: info["gid"] as? String ?? ""
            )
        }
    }

    private func operatorCall(_ call: [String: Any], what: String, limit: Int) async throws(MesosError) -> [String: Any] {
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: call, options: [.sortedKeys])
        } catch {
            throw MesosError(code: .encodingFailed, message: "\(what): \(error)", cause: error)
        }
        let request = MesosHTTPRequest(
            method: "POST",
            url: self.agent.operatorURL,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: [UInt8](body),
            timeout: self.requestTimeout
        )
        let (_, bytes) = try await self.exchange(request, what: what, limit: limit)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw MesosError(code: .decodingFailed, message: "\(what): the agent's answer is not a JSON object")
        }
        return object
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
