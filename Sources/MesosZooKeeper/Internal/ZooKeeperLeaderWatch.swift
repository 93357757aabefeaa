import MesosCore
import MesosDiscovery
internal import CZooKeeper

/// The state behind one ``MasterDetectors/ZooKeeper/Iterator``: a session, whether the election must be read
/// again, and what was reported last. Driven only by the consuming task.
final class ZooKeeperLeaderWatch {
    private enum Reported {
        case nothing
        case leader(MasterLocation?)
    }

    private let configuration: MasterDetectors.ZooKeeper.Configuration
    private let clock: any Clock<Duration>
    private var session: ZooKeeperSession?
    private var connected = false
    private var needsRead = true
    private var reported = Reported.nothing
    private var finished = false

    init(configuration: MasterDetectors.ZooKeeper.Configuration, clock: any Clock<Duration>) {
        self.configuration = configuration
        self.clock = clock
    }

    deinit {
        // Dropped iterator: zookeeper_close runs on its own thread; nobody waits for it.
        self.closeSession()
    }

    /// The leader (first call) or the next change; see ``MasterDetectors/ZooKeeper``.
    func next() async throws -> MasterLocation?? {
        guard !self.finished else { return nil }
        do {
            while true {
                try Task.checkCancellation()
                let session = try await self.currentSession()
                if self.connected && self.needsRead {
                    guard let leader = try await self.readLeader(session) else { continue }
                    self.needsRead = false
                    if case .leader(let previous) = self.reported, previous == leader { continue }
                    self.reported = .leader(leader)
                    return .some(leader)
                }
                guard let event = await session.nextEvent() else { throw CancellationError() }
                try self.handle(event, from: session)
            }
        } catch {
            self.finished = true
            await self.closeSessionAndWait()
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    // MARK: - Session

    private func currentSession() async throws -> ZooKeeperSession {
        if let session = self.session { return session }
        let url = self.configuration.url
        let session = try await ZooKeeperSession.open(
            servers: url.connectString,
            sessionTimeout: self.configuration.sessionTimeout,
            digest: url.credentials?.digest,
            clock: self.clock
        )
        if Task.isCancelled {
            await session.close()
            throw CancellationError()
        }
        self.session = session
        self.connected = false
        self.needsRead = true
        let deadline = session.setDeadline(after: self.configuration.connectTimeout)
        while !self.connected {
            guard let event = await session.nextEvent() else { throw CancellationError() }
            if case .deadline(let token) = event, token == deadline {
                throw MesosError(
                    code: .transportFailure,
                    message: "No ZooKeeper server of \(url.connectString) answered within "
                        + "\(self.configuration.connectTimeout)"
                )
            }
            try self.handle(event, from: session)
            if self.session !== session {
                // Expired before it ever connected; start over.
                return try await self.currentSession()
            }
        }
        return session
    }

    /// Closes the session without waiting (`zookeeper_close` runs on a thread of its own).
    private func closeSession() {
        guard let session = self.session else { return }
        let id = session.sessionID
        self.session = nil
        self.connected = false
        session.closeInBackground()
        self.observe(.closed, sessionID: id)
    }

    /// Closes the session and waits, without blocking the task's thread, until `zookeeper_close` returned.
    private func closeSessionAndWait() async {
        guard let session = self.session else { return }
        let id = session.sessionID
        self.session = nil
        self.connected = false
        await session.close()
        self.observe(.closed, sessionID: id)
    }

    private func observe(_ kind: MasterDetectors.ZooKeeper.SessionEvent.Kind, sessionID: Int64) {
        self.configuration.sessionObserver?(.init(kind: kind, sessionID: sessionID))
    }

    private func handle(_ event: ZooKeeperEvent, from session: ZooKeeperSession) throws {
        switch event {
        case .session(let state):
            if state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE {
                if !self.connected {
                    self.connected = true
                    self.needsRead = true
                    self.observe(.connected, sessionID: session.sessionID)
                }
            } else if state == ZOO_EXPIRED_SESSION_STATE {
                self.observe(.expired, sessionID: session.sessionID)
                self.closeSession()
                self.needsRead = true
            } else if state == ZOO_AUTH_FAILED_STATE {
                self.observe(.authenticationFailed, sessionID: session.sessionID)
                throw MesosError(
                    code: .authenticationFailed,
                    message: "ZooKeeper rejected the credentials of \(self.configuration.url)"
                )
            } else if self.connected {
                // CONNECTING / ASSOCIATING / NOTCONNECTED: the C client reconnects by itself.
                self.connected = false
                self.observe(.disconnected, sessionID: session.sessionID)
            }
        case .watch(_, let path):
            // A child, creation or deletion watch on the election path, or a watch the server dropped.
            if path == self.configuration.url.path || path.isEmpty {
                self.needsRead = true
            }
        case .authenticated(let rc):
            if rc != ZOK.rawValue {
                throw MesosError(
                    code: .authenticationFailed,
                    message: "ZooKeeper rejected the credentials of \(self.configuration.url): "
                        + ZooKeeperSession.describe(rc)
                )
            }
        case .children, .data, .exists, .deadline:
            break  // a late answer or a passed deadline: nothing to do
        }
    }

    // MARK: - Election

    /// Reads the election: `.some(leader)`, or `nil` when it could not be read now (the connection or the
    /// session is gone; the caller waits for events and tries again).
    private func readLeader(_ session: ZooKeeperSession) async throws -> MasterLocation?? {
        let path = self.configuration.url.path
        let (rc, names) = try await session.children(of: path, watch: true)
        if rc == ZNONODE.rawValue {
            // No election path yet: watch for its creation.
            let existsRC = try await session.exists(path, watch: true)
            if existsRC == ZNONODE.rawValue { return .some(nil) }
            if existsRC == ZOK.rawValue { return nil }  // created meanwhile: read again
            return try self.unreadable(existsRC, path: path, session: session)
        }
        guard rc == ZOK.rawValue else {
            return try self.unreadable(rc, path: path, session: session)
        }
        guard let leader = MasterMembership.leader(among: names) else {
            return .some(nil)
        }
        let node = path + "/" + leader.name
        let (dataRC, bytes) = try await session.data(of: node)
        if dataRC == ZNONODE.rawValue {
            return nil  // the leader left while we looked: read again
        }
        guard dataRC == ZOK.rawValue else {
            return try self.unreadable(dataRC, path: node, session: session)
        }
        return .some(
            try MasterInfoDecoding.location(
                from: bytes, format: leader.format, scheme: self.configuration.scheme, node: node
            )
        )
    }

    private func unreadable(_ rc: Int32, path: String, session: ZooKeeperSession) throws -> MasterLocation?? {
        if rc == ZCONNECTIONLOSS.rawValue || rc == ZOPERATIONTIMEOUT.rawValue {
            // A reconnection (CONNECTED) or an expiry follows; read again then.
            if self.connected {
                self.connected = false
                self.observe(.disconnected, sessionID: session.sessionID)
            }
            return nil
        }
        if rc == ZSESSIONEXPIRED.rawValue || rc == ZINVALIDSTATE.rawValue || rc == ZSESSIONMOVED.rawValue {
            self.observe(.expired, sessionID: session.sessionID)
            self.closeSession()
            return nil
        }
        if rc == ZNOAUTH.rawValue {
            throw MesosError(
                code: .unauthenticated,
                message: "ZooKeeper denied reading \(path) (ZNOAUTH): credentials missing or wrong in "
                    + "\(self.configuration.url)"
            )
        }
        if rc == ZAUTHFAILED.rawValue {
            throw MesosError(
                code: .authenticationFailed,
                message: "ZooKeeper rejected the credentials of \(self.configuration.url)"
            )
        }
        throw MesosError(
            code: .transportFailure,
            message: "ZooKeeper failed reading \(path): \(ZooKeeperSession.describe(rc))"
        )
    }
}
