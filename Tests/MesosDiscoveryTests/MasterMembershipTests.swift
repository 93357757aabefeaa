import Foundation
import MesosCore
@testable import MesosZooKeeper
import Testing

@Suite("ZooKeeper election: children and node data")
struct MasterMembershipTests {
    @Test("only json.info_N, info_N and bare numbers contend; the lowest sequence leads")
    func leaderSelection() throws {
        let children = [
            "log_replicas", "json.info_0000000007", "info_0000000004", "0000000005", "foo_0000000001",
            "json.info_abc", "json.info_", "json.info_-0000000001", "_", "json.info_0000000003x",
        ]
        let leader = try #require(MasterMembership.leader(among: children))
        #expect(leader.name == "info_0000000004")
        #expect(leader.format == .protobuf)
        #expect(MasterMembership(name: "json.info_0000000012")?.sequence == 12)
        #expect(MasterMembership(name: "json.info_0000000012")?.format == .json)
        #expect(MasterMembership(name: "0000000005")?.format == .pid)
        #expect(MasterMembership(name: "log_replicas") == nil)
        #expect(MasterMembership.leader(among: ["log_replicas", "x"]) == nil)
        #expect(MasterMembership.leader(among: []) == nil)
    }

    static func info(_ configure: (inout MasterInfo) -> Void) -> MasterInfo {
        var info = MasterInfo()
        info.id = "master-1"
        configure(&info)
        return info
    }

    @Test("the location comes from address.hostname, hostname, address.ip or ip, and address.port or port")
    func locationFromMasterInfo() throws {
        let full = Self.info {
            $0.ip = 184_549_386  // 10.0.0.11
            $0.port = 5050
            $0.hostname = "m1"
            $0.address.hostname = "m1.example.com"
            $0.address.ip = "10.0.0.11"
            $0.address.port = 5051
        }
        #expect(MasterInfoDecoding.location(from: full, scheme: "http")?.description == "http://m1.example.com:5051")
        #expect(MasterInfoDecoding.location(from: full, scheme: "https")?.masterInfo?.id == "master-1")
        let noAddress = Self.info {
            $0.ip = 184_549_386
            $0.port = 5050
            $0.hostname = "m1"
        }
        #expect(MasterInfoDecoding.location(from: noAddress, scheme: "http")?.description == "http://m1:5050")
        let ipOnly = Self.info {
            $0.ip = 184_549_386
            $0.port = 5050
        }
        #expect(MasterInfoDecoding.location(from: ipOnly, scheme: "http")?.description == "http://10.0.0.11:5050")
        let v6 = Self.info {
            $0.port = 5050
            $0.address.ip = "::1"
            $0.address.port = 5050
        }
        #expect(MasterInfoDecoding.location(from: v6, scheme: "http")?.description == "http://[::1]:5050")
        let pidOnly = Self.info { $0.pid = "master@10.1.2.3:5055" }
        #expect(MasterInfoDecoding.location(from: pidOnly, scheme: "http")?.description == "http://10.1.2.3:5055")
        #expect(MasterInfoDecoding.location(from: Self.info { _ in }, scheme: "http") == nil)
    }

    @Test("node data in the three formats")
    func nodeData() throws {
        let info = Self.info {
            $0.ip = 16_777_343  // 127.0.0.1
            $0.port = 5161
            $0.hostname = "localhost"
            $0.address.hostname = "localhost"
            $0.address.ip = "127.0.0.1"
            $0.address.port = 5161
        }
        let json = try MesosCodec(.json).encode(info)
        let binary = try MesosCodec(.protobuf).encode(info)
        let fromJSON = try MasterInfoDecoding.location(from: json, format: .json, scheme: "http", node: "/n")
        let fromBinary = try MasterInfoDecoding.location(from: binary, format: .protobuf, scheme: "http", node: "/n")
        let fromPID = try MasterInfoDecoding.location(
            from: Array("master@127.0.0.1:5161\n".utf8), format: .pid, scheme: "http", node: "/n"
        )
        #expect(fromJSON.description == "http://localhost:5161")
        #expect(fromBinary == fromJSON)
        #expect(fromBinary.masterInfo == info)
        #expect(fromPID.description == "http://127.0.0.1:5161")
    }

    @Test(
        "unreadable leader data is decodingFailed naming the node",
        arguments: [
            (Array("{not json".utf8), MasterMembership.Format.json),
            (Array("{}".utf8), MasterMembership.Format.json),
            ([0xFF, 0xFF, 0xFF], MasterMembership.Format.protobuf),
            (Array("garbage".utf8), MasterMembership.Format.pid),
            (Array("master@host".utf8), MasterMembership.Format.pid),
        ]
    )
    func unreadableData(bytes: [UInt8], format: MasterMembership.Format) {
        let error = #expect(throws: MesosError.self) {
            try MasterInfoDecoding.location(from: bytes, format: format, scheme: "http", node: "/mesos/x_1")
        }
        #expect(error?.code == .decodingFailed)
        #expect(error?.message.contains("/mesos/x_1") == true)
    }
}
