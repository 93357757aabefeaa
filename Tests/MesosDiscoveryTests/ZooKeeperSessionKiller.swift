import CZooKeeper
import Foundation

/// Expires someone else's ZooKeeper session on purpose, the way ZooKeeper's own tests do: connect a second
/// client with the same session id and password, then close it, which ends the session on the server.
///
/// The password is not exposed by the detector, but ZooKeeper derives it from the session id
/// (`ZooKeeperServer.generatePasswd`: 16 bytes of `java.util.Random(id ^ 0xB3415C00)`), so it is recomputed.
enum ZooKeeperSessionKiller {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Closes session `id` on the server behind `servers`.
    static func expire(sessionID id: Int64, servers: String) async throws {
        var client = clientid_t()
        client.client_id = id
        var random = JavaRandom(seed: id ^ 0xB341_5C00)
        let password = random.nextBytes(16)
        withUnsafeMutableBytes(of: &client.passwd) { buffer in
            for (index, byte) in password.enumerated() { buffer[index] = byte }
        }
        guard let handle = zookeeper_init(servers, killerWatcher, 10_000, &client, nil, 0) else {
            throw Failure(description: "zookeeper_init failed")
        }
        defer { zookeeper_close(handle) }
        let deadline = ContinuousClock.now + .seconds(10)
        while zoo_state(handle) != ZOO_CONNECTED_STATE {
            guard ContinuousClock.now < deadline, zoo_state(handle) != ZOO_EXPIRED_SESSION_STATE else {
                throw Failure(description: "could not take over session 0x\(String(id, radix: 16))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard zoo_client_id(handle).pointee.client_id == id else {
            throw Failure(description: "the server gave a new session instead of 0x\(String(id, radix: 16))")
        }
    }

    /// `java.util.Random`, enough of it for `nextBytes`.
    struct JavaRandom {
        private var seed: UInt64
        private static let mask: UInt64 = (1 << 48) - 1

        init(seed: Int64) {
            self.seed = (UInt64(bitPattern: seed) ^ 0x5_DEEC_E66D) & Self.mask
        }

        mutating func nextInt() -> Int32 {
            self.seed = (self.seed &* 0x5_DEEC_E66D &+ 0xB) & Self.mask
            return Int32(truncatingIfNeeded: self.seed >> 16)
        }

        mutating func nextBytes(_ count: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            while bytes.count < count {
                var value = self.nextInt()
                for _ in 0..<min(count - bytes.count, 4) {
                    bytes.append(UInt8(truncatingIfNeeded: value))
                    value >>= 8
                }
            }
            return bytes
        }
    }
}

private let killerWatcher: watcher_fn = { _, _, _, _, _ in }
