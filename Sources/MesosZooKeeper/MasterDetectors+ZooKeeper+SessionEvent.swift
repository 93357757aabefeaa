import MesosDiscovery

extension MasterDetectors.ZooKeeper {
    /// A change of the detector's own ZooKeeper session, for logs and metrics
    /// (``Configuration/sessionObserver``).
    public struct SessionEvent: Sendable, Hashable, CustomStringConvertible {
        /// What happened.
        public struct Kind: Sendable, Hashable, CustomStringConvertible {
            private enum Wrapped: String, Sendable, Hashable {
                case connected, disconnected, expired, authenticationFailed, closed
            }
            private let wrapped: Wrapped
            private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

            /// The session is connected to a server (first time, after a reconnection, or a new session).
            public static let connected = Kind(.connected)
            /// The connection was lost; the C client reconnects and the last leader is kept meanwhile.
            public static let disconnected = Kind(.disconnected)
            /// The server expired the session; a new one is opened and everything is read again.
            public static let expired = Kind(.expired)
            /// The server rejected the credentials.
            public static let authenticationFailed = Kind(.authenticationFailed)
            /// The detector closed the session (cancellation, error, end of iteration).
            public static let closed = Kind(.closed)

            /// The kind's name.
            public var description: String { self.wrapped.rawValue }
        }

        /// What happened.
        public var kind: Kind
        /// The ZooKeeper session id (0 before the server assigned one).
        public var sessionID: Int64

        /// Creates an event.
        public init(kind: Kind, sessionID: Int64) {
            self.kind = kind
            self.sessionID = sessionID
        }

        /// `kind (session 0x…)`.
        public var description: String {
            "\(self.kind) (session 0x\(String(UInt64(bitPattern: self.sessionID), radix: 16)))"
        }
    }
}
