import MesosRecordIO

/// The one error type that swift-mesos's public API throws.
///
/// A `MesosError` has a ``code`` to switch on, a human ``message``, the HTTP status when a master answered with
/// one, and the underlying ``cause`` (an adapter's own error, a ``RecordIOError``, a decoding error, …).
/// Two classifications tell a caller what to do next:
/// - ``isTemporary``: trying again later may work (503, 429, connection failures, timeouts, a lost stream).
/// - ``indicatesSubscriptionLoss``: the master no longer considers this client subscribed on this stream
///   (403 "not subscribed", a stale `Mesos-Stream-Id`, the event stream ended or broke); subscribe again.
///
/// Equality and hashing look at the ``code`` only, so `error == .init(code: .unavailable)`-style comparisons
/// and `switch error.code` both work regardless of the message.
public struct MesosError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added in later versions; switch with a `default`.
    public var code: Code
    /// A human-readable explanation, including the master's own text when there was one.
    public var message: String
    /// The HTTP status the master answered with, if the failure came from an HTTP response.
    public var httpStatus: Int?
    /// The error that caused this one, if any.
    public var cause: (any Error)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: A human-readable explanation; defaults to the code's description.
    ///   - httpStatus: The HTTP status, when the failure came from a response.
    ///   - cause: The underlying error.
    public init(code: Code, message: String? = nil, httpStatus: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message ?? code.description
        self.httpStatus = httpStatus
        self.cause = cause
    }

    /// `true` when retrying the same operation later may succeed.
    public var isTemporary: Bool {
        self.code.isTemporary
    }

    /// `true` when the master no longer treats this client as subscribed on its current stream, so the client
    /// should subscribe again before making calls.
    public var indicatesSubscriptionLoss: Bool {
        self.code.indicatesSubscriptionLoss
    }

    /// A short, bounded string that is safe to use as a metric label: the code's name only.
    public var shortDescription: String {
        self.code.description
    }

    /// The code, status, message and cause on one line.
    public var description: String {
        var text = "MesosError.\(self.code)"
        if let status = self.httpStatus {
            text += " (HTTP \(status))"
        }
        text += ": \(self.message)"
        if let cause = self.cause {
            text += " [cause: \(String(describing: cause))]"
        }
        return text
    }

    /// Compares codes only.
    public static func == (lhs: MesosError, rhs: MesosError) -> Bool {
        lhs.code == rhs.code
    }

    /// Hashes the code only.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
    }
}

extension MesosError {
    /// The kind of a ``MesosError``: an extensible set of named values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case malformedRequest, streamIDMismatch, frameworkNotFound, unauthenticated, forbidden, unsubscribed
            case notFound, methodNotAllowed, notAcceptable, conflict, unsupportedMediaType, rateLimited
            case internalServerError, notImplemented, unavailable, notLeader, tooManyRedirects, unexpectedStatus
            case notSubscribed, invalidCall, invalidState, invalidConfiguration, encodingFailed, decodingFailed
            case malformedStream, recordTooLarge, streamTruncated, streamEnded, heartbeatTimeout
            case subscriptionRefused, frameworkError, frameworkFailedOver, frameworkRemoved
            case transportFailure, timeout, cancelled, noLeader, authenticationFailed, tlsVerificationFailed
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The code's name, e.g. `unavailable`.
        public var description: String { self.wrapped.rawValue }

        /// 400: the master could not parse or validate the request.
        public static let malformedRequest = Code(.malformedRequest)
        /// 400: the `Mesos-Stream-Id` header was missing or belongs to an older subscription.
        public static let streamIDMismatch = Code(.streamIDMismatch)
        /// 400: the master does not know the framework id (for example a new leader after failover).
        public static let frameworkNotFound = Code(.frameworkNotFound)
        /// 401: credentials are missing or wrong.
        public static let unauthenticated = Code(.unauthenticated)
        /// 403: the authenticated principal may not do this.
        public static let forbidden = Code(.forbidden)
        /// 403 "Framework is not subscribed": the master considers the framework disconnected.
        public static let unsubscribed = Code(.unsubscribed)
        /// 404: the endpoint does not exist (yet: a starting master answers 404).
        public static let notFound = Code(.notFound)
        /// 405: the method is not allowed.
        public static let methodNotAllowed = Code(.methodNotAllowed)
        /// 406: neither JSON nor protobuf is acceptable per the `Accept` header.
        public static let notAcceptable = Code(.notAcceptable)
        /// 409: the framework was removed while the call was processed.
        public static let conflict = Code(.conflict)
        /// 415: the `Content-Type` is not exactly `application/json` or `application/x-protobuf`.
        public static let unsupportedMediaType = Code(.unsupportedMediaType)
        /// 429: too many requests.
        public static let rateLimited = Code(.rateLimited)
        /// 500: the master failed internally.
        public static let internalServerError = Code(.internalServerError)
        /// 501: the call type is not implemented by this master.
        public static let notImplemented = Code(.notImplemented)
        /// 503: no leader is elected, or the leader is still recovering.
        public static let unavailable = Code(.unavailable)
        /// 307: the master is not the leader; the leader's address is in the message.
        public static let notLeader = Code(.notLeader)
        /// Redirects did not lead to a leader within the allowed number of hops, or looped.
        public static let tooManyRedirects = Code(.tooManyRedirects)
        /// Any other HTTP status.
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// A call was made while this client has no live subscription.
        public static let notSubscribed = Code(.notSubscribed)
        /// A call failed validation before it was sent.
        public static let invalidCall = Code(.invalidCall)
        /// An operation is not allowed in the current subscription state.
        public static let invalidState = Code(.invalidState)
        /// The client's configuration is unusable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A message could not be serialized.
        public static let encodingFailed = Code(.encodingFailed)
        /// A message from the master could not be parsed.
        public static let decodingFailed = Code(.decodingFailed)
        /// The event stream's framing is broken (bytes that are not RecordIO).
        public static let malformedStream = Code(.malformedStream)
        /// An event was larger than the configured maximum.
        public static let recordTooLarge = Code(.recordTooLarge)
        /// The event stream ended in the middle of an event.
        public static let streamTruncated = Code(.streamTruncated)
        /// The event stream ended (the master closed it or the connection dropped).
        public static let streamEnded = Code(.streamEnded)
        /// Nothing arrived on the event stream for too many heartbeat intervals.
        public static let heartbeatTimeout = Code(.heartbeatTimeout)
        /// The master answered SUBSCRIBE with an ERROR event instead of SUBSCRIBED.
        public static let subscriptionRefused = Code(.subscriptionRefused)
        /// The master sent an ERROR event on a live subscription.
        public static let frameworkError = Code(.frameworkError)
        /// Another subscription with the same framework id took over ("Framework failed over").
        public static let frameworkFailedOver = Code(.frameworkFailedOver)
        /// The master removed the framework (torn down, or its failover timeout expired).
        public static let frameworkRemoved = Code(.frameworkRemoved)
        /// The connection failed (refused, reset, TLS failure, …).
        public static let transportFailure = Code(.transportFailure)
        /// A request or connection attempt took too long.
        public static let timeout = Code(.timeout)
        /// The operation was cancelled.
        public static let cancelled = Code(.cancelled)
        /// Master discovery found no leader.
        public static let noLeader = Code(.noLeader)
        /// Obtaining credentials (for example a DC/OS login) failed.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The server's TLS certificate or host name could not be verified, or a CA or client certificate file
        /// could not be used: a configuration problem (trust the right CA, e.g. a tool's `--ca-file`), never
        /// retried.
        public static let tlsVerificationFailed = Code(.tlsVerificationFailed)

        /// See ``MesosError/isTemporary``.
        public var isTemporary: Bool {
            switch self.wrapped {
            case .unavailable, .rateLimited, .transportFailure, .timeout, .noLeader, .streamEnded,
                .streamTruncated, .heartbeatTimeout, .notFound:
                return true
            default:
                return false
            }
        }

        /// See ``MesosError/indicatesSubscriptionLoss``.
        public var indicatesSubscriptionLoss: Bool {
            switch self.wrapped {
            case .unsubscribed, .streamIDMismatch, .frameworkNotFound, .streamEnded, .streamTruncated,
                .heartbeatTimeout, .malformedStream:
                return true
            default:
                return false
            }
        }
    }
}

extension MesosError {
    /// Classifies a master's non-success HTTP answer, using the status and the master's text.
    ///
    /// - Parameters:
    ///   - status: The HTTP status code.
    ///   - body: The response body (Mesos sends plain text); only its first 4 KiB are kept.
    ///   - location: The `Location` header of a redirect, if any.
    /// - Returns: The matching error.
    public static func httpStatus(_ status: Int, body: String = "", location: String? = nil) -> MesosError {
        let text = String(body.prefix(4096))
        let lowered = text.lowercased()
        let code: Code
        switch status {
        case 400:
            if lowered.contains("stream id") || lowered.contains("mesos-stream-id") {
                code = .streamIDMismatch
            } else if lowered.contains("framework cannot be found") || lowered.contains("framework not found") {
                code = .frameworkNotFound
            } else {
                code = .malformedRequest
            }
        case 401: code = .unauthenticated
        case 403: code = lowered.contains("not subscribed") ? .unsubscribed : .forbidden
        case 404: code = .notFound
        case 405: code = .methodNotAllowed
        case 406: code = .notAcceptable
        case 409: code = .conflict
        case 415: code = .unsupportedMediaType
        case 429: code = .rateLimited
        case 500: code = .internalServerError
        case 501: code = .notImplemented
        case 503: code = .unavailable
        case 300..<400: code = .notLeader
        default: code = .unexpectedStatus
        }
        var message = "HTTP \(status)"
        if let location {
            message += " to \(location)"
        }
        if !text.isEmpty {
            message += ": \(text)"
        }
        return MesosError(code: code, message: message, httpStatus: status)
    }

    /// Turns any error met while moving bytes into a ``MesosError``: a `MesosError` stays as it is,
    /// `CancellationError` becomes ``Code/cancelled``, anything else ``Code/transportFailure``, with the original
    /// error as ``cause``. Transports use it to keep the port's promise of throwing only `MesosError`.
    ///
    /// - Parameters:
    ///   - error: The error.
    ///   - context: What was being done, for the message (e.g. "POST http://m:5050/api/v1/scheduler").
    /// - Returns: The error as a `MesosError`.
    public static func transport(_ error: any Error, context: String) -> MesosError {
        if let error = error as? MesosError {
            return error
        }
        if error is CancellationError {
            return MesosError(code: .cancelled, message: "\(context) was cancelled", cause: error)
        }
        return MesosError(code: .transportFailure, message: "\(context) failed: \(error)", cause: error)
    }

    /// Runs `operation` and turns whatever it throws into a ``MesosError`` with ``transport(_:context:)``: the
    /// way for an adapter built on APIs that throw other errors to meet the port's typed `throws(MesosError)`.
    ///
    /// ```swift
    /// func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
    ///     try await MesosError.catching(context: "\(request.method) \(request.url)") { try await self.exchange(request) }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - context: What is being done, for the message of a mapped error.
    ///   - operation: The work.
    /// - Returns: What `operation` returns.
    public static func catching<Result>(
        context: @autoclosure () -> String,
        _ operation: () async throws -> Result
    ) async throws(MesosError) -> Result {
        do {
            return try await operation()
        } catch {
            throw MesosError.transport(error, context: context())
        }
    }

    /// Wraps a RecordIO framing error.
    ///
    /// - Parameter error: The framing error.
    /// - Returns: ``Code/recordTooLarge``, ``Code/streamTruncated`` or ``Code/malformedStream``.
    public static func recordIO(_ error: RecordIOError) -> MesosError {
        let code: Code
        switch error {
        case .recordTooLarge: code = .recordTooLarge
        case .truncated: code = .streamTruncated
        default: code = .malformedStream
        }
        return MesosError(code: code, message: error.description, cause: error)
    }

    /// Classifies the message of an ERROR event.
    ///
    /// - Parameters:
    ///   - message: The event's `error.message`.
    ///   - beforeSubscribed: Whether it came before SUBSCRIBED (the subscription was refused).
    /// - Returns: ``Code/frameworkFailedOver``, ``Code/frameworkRemoved``, ``Code/subscriptionRefused`` or
    ///   ``Code/frameworkError``.
    public static func errorEvent(_ message: String, beforeSubscribed: Bool) -> MesosError {
        let lowered = message.lowercased()
        let code: Code
        if lowered.contains("failed over") {
            code = .frameworkFailedOver
        } else if lowered.contains("has been removed") || lowered.contains("framework removed") {
            code = .frameworkRemoved
        } else if beforeSubscribed {
            code = .subscriptionRefused
        } else {
            code = .frameworkError
        }
        return MesosError(code: code, message: "Master sent ERROR: \(message)")
    }
}
