import MesosCore
internal import CZooKeeper

/// A failed ZooKeeper request or connection: every return code of the C client becomes one of these, never a
/// crash.
public struct ZooKeeperError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, by ZooKeeper return code (or the client's own condition).
    public enum Code: Sendable, Hashable, CustomStringConvertible {
        /// `ZNONODE`: the node (or the parent of a node to create) does not exist.
        case noNode
        /// `ZNODEEXISTS`: the node to create exists already.
        case nodeExists
        /// `ZBADVERSION`: the node's version is not the expected one (a lost compare-and-set).
        case versionMismatch
        /// `ZNOTEMPTY`: the node to delete has children.
        case notEmpty
        /// `ZNOCHILDRENFOREPHEMERALS`: ephemeral nodes cannot have children.
        case noChildrenForEphemerals
        /// `ZCONNECTIONLOSS`: the connection was lost before the answer; the request may or may not have run.
        case connectionLoss
        /// `ZOPERATIONTIMEOUT`: no answer in time; the request may or may not have run.
        case operationTimeout
        /// `ZSESSIONEXPIRED` (or `ZINVALIDSTATE` after expiry): the session is gone for good.
        case sessionExpired
        /// `ZSESSIONMOVED`: the session moved to another server.
        case sessionMoved
        /// `ZNOAUTH`: the ACL forbids it.
        case notAuthorized
        /// `ZAUTHFAILED`: the server rejected the credentials.
        case authenticationFailed
        /// `ZINVALIDACL`: an invalid ACL.
        case invalidACL
        /// `ZBADARGUMENTS`: an invalid path or argument.
        case badArguments
        /// `ZCLOSING`: the client was closed.
        case closed
        /// No server answered within the connect timeout.
        case connectTimeout
        /// Any other return code (kept in ``ZooKeeperError/returnCode``).
        case other

        /// The code's name.
        public var description: String {
            switch self {
            case .noNode: return "noNode"
            case .nodeExists: return "nodeExists"
            case .versionMismatch: return "versionMismatch"
            case .notEmpty: return "notEmpty"
            case .noChildrenForEphemerals: return "noChildrenForEphemerals"
            case .connectionLoss: return "connectionLoss"
            case .operationTimeout: return "operationTimeout"
            case .sessionExpired: return "sessionExpired"
            case .sessionMoved: return "sessionMoved"
            case .notAuthorized: return "notAuthorized"
            case .authenticationFailed: return "authenticationFailed"
            case .invalidACL: return "invalidACL"
            case .badArguments: return "badArguments"
            case .closed: return "closed"
            case .connectTimeout: return "connectTimeout"
            case .other: return "other"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// The C client's return code (0 for conditions of this client, such as ``Code/connectTimeout``).
    public var returnCode: Int32
    /// The node concerned, if any.
    public var path: String?
    /// In a ``ZooKeeperClient/multi(_:)``, the index of the operation that failed.
    public var failedOperation: Int?
    /// A sentence for people.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: What went wrong.
    ///   - returnCode: The C return code, 0 if none.
    ///   - path: The node concerned.
    ///   - failedOperation: The failing operation's index in a multi.
    ///   - message: A sentence for people.
    public init(code: Code, returnCode: Int32 = 0, path: String? = nil, failedOperation: Int? = nil, message: String) {
        self.code = code
        self.returnCode = returnCode
        self.path = path
        self.failedOperation = failedOperation
        self.message = message
    }

    /// The error for a C return code.
    init(rc: Int32, operation: String, path: String?, failedOperation: Int? = nil) {
        let code: Code
        switch rc {
        case ZNONODE.rawValue: code = .noNode
        case ZNODEEXISTS.rawValue: code = .nodeExists
        case ZBADVERSION.rawValue: code = .versionMismatch
        case ZNOTEMPTY.rawValue: code = .notEmpty
        case ZNOCHILDRENFOREPHEMERALS.rawValue: code = .noChildrenForEphemerals
        case ZCONNECTIONLOSS.rawValue: code = .connectionLoss
        case ZOPERATIONTIMEOUT.rawValue: code = .operationTimeout
        case ZSESSIONEXPIRED.rawValue, ZINVALIDSTATE.rawValue: code = .sessionExpired
        case ZSESSIONMOVED.rawValue: code = .sessionMoved
        case ZNOAUTH.rawValue: code = .notAuthorized
        case ZAUTHFAILED.rawValue: code = .authenticationFailed
        case ZINVALIDACL.rawValue: code = .invalidACL
        case ZBADARGUMENTS.rawValue: code = .badArguments
        case ZCLOSING.rawValue: code = .closed
        default: code = .other
        }
        let subject = path.map { " \($0)" } ?? ""
        self.init(
            code: code, returnCode: rc, path: path, failedOperation: failedOperation,
            message: "ZooKeeper \(operation)\(subject) failed: \(ZooKeeperHandle.describe(rc))"
        )
    }

    /// Whether the request may succeed when tried again on the same session (connection loss, timeout).
    public var isTemporary: Bool {
        self.code == .connectionLoss || self.code == .operationTimeout
    }

    /// The error as a ``MesosError`` (`notFound`, `conflict`, `transportFailure`, `timeout`, `unauthenticated`,
    /// `authenticationFailed`, `invalidCall`, `cancelled`, `invalidState`), with this error as the cause.
    public var mesosError: MesosError {
        let code: MesosError.Code
        switch self.code {
        case .noNode: code = .notFound
        case .nodeExists, .versionMismatch, .notEmpty: code = .conflict
        case .connectionLoss, .sessionMoved, .other: code = .transportFailure
        case .operationTimeout, .connectTimeout: code = .timeout
        case .sessionExpired: code = .invalidState
        case .notAuthorized: code = .unauthenticated
        case .authenticationFailed: code = .authenticationFailed
        case .invalidACL, .badArguments, .noChildrenForEphemerals: code = .invalidCall
        case .closed: code = .cancelled
        }
        return MesosError(code: code, message: self.message, cause: self)
    }

    /// `code: message`.
    public var description: String {
        "\(self.code): \(self.message)"
    }
}
