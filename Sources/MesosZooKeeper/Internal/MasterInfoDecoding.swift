import Foundation
import MesosCore
import MesosDiscovery

/// Turns a leader's znode data into a ``MasterLocation``.
enum MasterInfoDecoding {
    /// Decodes node data in the format its label names.
    ///
    /// - Parameters:
    ///   - bytes: The node's data.
    ///   - format: The format from the node's label.
    ///   - scheme: `http` or `https`, which ZooKeeper does not record.
    ///   - node: The node's path, for messages.
    /// - Returns: The location, with the MasterInfo when there was one.
    /// - Throws: ``MesosError/Code/decodingFailed`` naming the node.
    static func location(
        from bytes: [UInt8],
        format: MasterMembership.Format,
        scheme: String,
        node: String
    ) throws(MesosError) -> MasterLocation {
        switch format {
        case .json, .protobuf:
            let info: MasterInfo
            do {
                info = try MesosCodec(format == .json ? .json : .protobuf).decode(MasterInfo.self, from: bytes[...])
            } catch {
                throw MesosError(
                    code: .decodingFailed,
                    message: "The leader's node \(node) does not hold a MasterInfo: \(error.message)",
                    cause: error
                )
            }
            guard let location = Self.location(from: info, scheme: scheme) else {
                throw MesosError(
                    code: .decodingFailed,
                    message: "The MasterInfo in \(node) names no usable host and port"
                )
            }
            return location
        case .pid:
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let location = Self.location(fromPID: text, scheme: scheme) else {
                throw MesosError(
                    code: .decodingFailed,
                    message: "The leader's node \(node) holds '\(text.prefix(200))', not a PID name@host:port"
                )
            }
            return location
        }
    }

    /// Host from `address.hostname`, `hostname`, `address.ip`, `ip` or `pid` (first that is set); port from
    /// `address.port`, `port` or `pid`.
    static func location(from info: MasterInfo, scheme: String) -> MasterLocation? {
        let pid = Self.location(fromPID: info.pid, scheme: scheme)
        var host: String?
        if info.hasAddress && !info.address.hostname.isEmpty {
            host = info.address.hostname
        } else if !info.hostname.isEmpty {
            host = info.hostname
        } else if info.hasAddress && !info.address.ip.isEmpty {
            host = info.address.ip.contains(":") && !info.address.ip.hasPrefix("[")
                ? "[\(info.address.ip)]" : info.address.ip
        } else if info.hasIp && info.ip != 0 {
            // Network byte order read as a host integer: the first octet is the lowest byte.
            let ip = info.ip
            host = "\(ip & 0xFF).\((ip >> 8) & 0xFF).\((ip >> 16) & 0xFF).\(ip >> 24)"
        } else {
            host = pid?.host
        }
        var port: Int?
        if info.hasAddress && info.address.port > 0 {
            port = Int(info.address.port)
        } else if info.hasPort && info.port > 0 && info.port <= 65535 {
            port = Int(info.port)
        } else {
            // `port` is required with a default of 5050, which is what an unset field reads as.
            port = pid?.port ?? Int(clamping: info.port)
        }
        guard let host, let port, (1...65535).contains(port) else { return nil }
        return MasterLocation(scheme: scheme, host: host, port: port, masterInfo: info)
    }

    /// `master@10.0.0.1:5050` (or a bare `host:port`).
    static func location(fromPID pid: String, scheme: String) -> MasterLocation? {
        let address = pid.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).last ?? ""
        guard let authority = HostPort.parse(address), let port = authority.port else { return nil }
        return MasterLocation(scheme: scheme, host: authority.host, port: port)
    }
}
