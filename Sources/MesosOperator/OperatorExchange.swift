import Foundation
import Logging
import MesosCompression
import MesosCore

/// Where an operator client's requests go.
enum OperatorTarget: Sendable {
    /// A master found through a detector; 307s are followed to the leader.
    case master(MasterDetector)
    /// An agent at a fixed base URL; never redirected.
    case agent(URL)
}

/// A whole answer: status, head, the decoded body and its encoding.
struct OperatorAnswer: Sendable {
    /// The HTTP status.
    var status: Int
    /// The response head (describing the decoded body).
    var headers: MesosHTTPHeaders
    /// The body, decompressed.
    var body: [UInt8]
    /// The master that answered, after redirects (`nil` for agents).
    var master: MasterLocation?

    /// The encoding of the body: the `Content-Type` when it names one of the two, else what was asked for.
    func contentType(default fallback: MesosContentType) -> MesosContentType {
        self.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)) ?? fallback
    }

    /// The body as text (for error messages).
    var text: String {
        String(decoding: self.body.prefix(4096), as: UTF8.self)
    }

    /// The error for a status other than 200/202.
    var error: MesosError {
        MesosError.httpStatus(self.status, body: self.text, location: self.headers["Location"])
    }
}

/// A response whose body is still streaming (SUBSCRIBE, container output).
struct OperatorStreamAnswer: Sendable {
    /// The response head.
    var response: MesosHTTPResponse
    /// The body, as it arrives.
    var body: MesosResponseBody
    /// The master that answered, after redirects (`nil` for agents).
    var master: MasterLocation?
}

/// The plumbing every operator call shares: headers and content negotiation, authentication (one refresh on
/// 401), 307s followed to the leader (masters only), 503s and lost connections retried with backoff on the
/// configured clock, gzip answers decoded.
final class OperatorExchange: Sendable {
    let configuration: MesosOperatorConfiguration
    let target: OperatorTarget
    private let time: TimeSource
    /// The master that answered last (masters only): calls go there first.
    private let leader = LockedValue<MasterLocation?>(nil)
    private let random = LockedValue(SplitMix64())

    init(configuration: MesosOperatorConfiguration, target: OperatorTarget) {
        self.configuration = configuration
        self.target = target
        self.time = TimeSource(configuration.clock)
    }

    /// The master that answered the last call, if any.
    var knownLeader: MasterLocation? {
        self.leader.withLock { $0 }
    }

    /// Sends one call and reads the whole answer, retrying as configured.
    ///
    /// - Parameters:
    ///   - body: The encoded call.
    ///   - readOnly: Whether the call changes nothing, so that a transport failure may be retried.
    ///   - name: The call's type name, for messages.
    ///   - longPoll: The answer comes when something happens (WAIT_CONTAINER): no whole-call timeout.
    /// - Returns: The answer (any status but 503).
    /// - Throws: ``MesosError``: ``MesosError/Code/unavailable`` with the server's text once every attempt got
    ///   a 503, or the failure of the last attempt.
    func call(
        body: [UInt8], readOnly: Bool, name: String, longPoll: Bool = false
    ) async throws(MesosError) -> OperatorAnswer {
        try await self.retrying(readOnly: readOnly, name: name) { () async throws(MesosError) -> Outcome<OperatorAnswer> in
            let raw = try await self.send(
                body: body, accept: self.configuration.contentType.mediaType, extraHeaders: [:],
                timeout: longPoll ? nil : self.configuration.callTimeout, idleTimeout: nil,
                compressed: self.configuration.acceptsCompressedResponses)
            let (head, decoded) = try raw.response.decodingContent(
                of: raw.body, maximumSize: self.configuration.maximumResponseSize)
            let bytes = try await decoded.collect(upTo: self.configuration.maximumResponseSize)
            let answer = OperatorAnswer(status: head.status, headers: head.headers, body: bytes, master: raw.master)
            return answer.status == 503 ? .unavailable(answer.error) : .answer(answer)
        }
    }

    /// Opens a streaming answer (no whole-exchange timeout), retrying as configured until a 2xx head arrives.
    ///
    /// - Parameters:
    ///   - body: The encoded call.
    ///   - accept: The `Accept` value.
    ///   - extraHeaders: More request headers (`Message-Accept`).
    ///   - idleTimeout: The longest silence in the body, or `nil`.
    ///   - name: The call's type name, for messages.
    /// - Returns: The open stream.
    /// - Throws: ``MesosError`` for a non-2xx status (with the server's text) or a failure.
    func openStream(
        body: [UInt8], accept: String, extraHeaders: MesosHTTPHeaders, idleTimeout: Duration?, name: String
    ) async throws(MesosError) -> OperatorStreamAnswer {
        try await self.retrying(readOnly: true, name: name) { () async throws(MesosError) -> Outcome<OperatorStreamAnswer> in
            let raw = try await self.send(
                body: body, accept: accept, extraHeaders: extraHeaders, timeout: nil, idleTimeout: idleTimeout,
                compressed: false)
            if (200..<300).contains(raw.response.status) {
                return .answer(raw)
            }
            let text = await raw.body.prefixText()
            let error = MesosError.httpStatus(raw.response.status, body: text, location: raw.response.headers["Location"])
            if raw.response.status == 503 {
                return .unavailable(error)
            }
            throw error
        }
    }

    /// What one attempt came to.
    private enum Outcome<Answer> {
        /// An answer to hand back.
        case answer(Answer)
        /// A 503, to retry.
        case unavailable(MesosError)
    }

    /// Runs `attempt` until it gives an answer, retrying 503s, "no leader" and, for read-only calls, transport
    /// failures, with backoff on the configured clock.
    private func retrying<Answer>(
        readOnly: Bool,
        name: String,
        _ attempt: () async throws(MesosError) -> Outcome<Answer>
    ) async throws(MesosError) -> Answer {
        let attempts = max(1, self.configuration.maximumAttempts)
        var number = 1
        while true {
            let failure: MesosError
            do {
                switch try await attempt() {
                case .answer(let answer):
                    return answer
                case .unavailable(let error):
                    failure = error
                }
            } catch {
                failure = error
            }
            let retryable: Bool
            switch failure.code {
            case .unavailable, .noLeader:
                retryable = true
            case .transportFailure:
                retryable = readOnly
            default:
                retryable = false
            }
            if failure.code == .unavailable || failure.code == .transportFailure || failure.code == .noLeader {
                // Ask the detector again next time: the leader may have moved or died.
                self.leader.withLock { $0 = nil }
            }
            guard retryable, number < attempts else {
                throw failure
            }
            let delay = self.random.withLock { generator in
                self.configuration.retryBackoff.delay(forAttempt: number, using: &generator)
            }
            self.configuration.logger?.debug(
                "Operator call failed; retrying",
                metadata: [
                    "call": "\(name)", "attempt": "\(number)", "error": "\(failure.shortDescription)",
                    "delay": "\(delay)",
                ])
            do {
                try await self.time.sleep(for: delay)
            } catch {
                throw MesosError(code: .cancelled, message: "\(name) was cancelled while waiting to retry", cause: error)
            }
            number += 1
        }
    }

    /// One request, with authentication and (masters) redirects; the body is not read on success.
    private func send(
        body: [UInt8],
        accept: String,
        extraHeaders: MesosHTTPHeaders,
        timeout: Duration?,
        idleTimeout: Duration?,
        compressed: Bool
    ) async throws(MesosError) -> OperatorStreamAnswer {
        var current: MasterLocation?
        var baseURL: URL
        switch self.target {
        case .master(let detector):
            let location = try await self.resolveLeader(detector)
            current = location
            baseURL = location.baseURL
        case .agent(let url):
            baseURL = url
        }
        var visited: Set<String> = []
        if let current { visited.insert(current.description) }
        var refreshed = false
        var hops = 0
        while true {
            var headers: MesosHTTPHeaders = [
                "Content-Type": self.configuration.contentType.mediaType,
                "Accept": accept,
            ]
            if compressed {
                headers["Accept-Encoding"] = "gzip"
            }
            for field in extraHeaders {
                headers[field.name] = field.value
            }
            if let authenticator = self.configuration.authenticator {
                do {
                    if let value = try await authenticator.authorization(refresh: refreshed) {
                        headers["Authorization"] = value
                    }
                } catch let error as MesosError {
                    throw error
                } catch {
                    throw MesosError(code: .authenticationFailed, message: "Could not obtain credentials", cause: error)
                }
            }
            let url = Self.endpoint(baseURL, path: self.configuration.path)
            let request = MesosHTTPRequest(
                method: "POST", url: url, headers: headers, body: body, timeout: timeout, idleTimeout: idleTimeout)
            let (response, responseBody) = try await self.configuration.transport.send(request)

            if response.status == 401, self.configuration.authenticator != nil, !refreshed {
                refreshed = true
                _ = try? await responseBody.collect(upTo: 1 << 16)
                continue
            }
            if case .master = self.target, let from = current, [301, 302, 303, 307, 308].contains(response.status) {
                let value = response.headers["Location"]
                _ = try? await responseBody.collect(upTo: 1 << 16)
                guard let value, let next = MasterLocation(redirectLocation: value, relativeTo: from) else {
                    throw MesosError.httpStatus(response.status, body: "redirect without a usable Location", location: value)
                }
                hops += 1
                guard hops <= self.configuration.maximumRedirects, visited.insert(next.description).inserted else {
                    throw MesosError(
                        code: .tooManyRedirects,
                        message: "Redirects did not reach a leader (\(hops) hops, last \(next))",
                        httpStatus: response.status)
                }
                self.configuration.logger?.debug(
                    "Operator call redirected", metadata: ["from": "\(from)", "to": "\(next)"])
                current = next
                baseURL = next.baseURL
                continue
            }
            if let current, response.status != 503 {
                self.leader.withLock { $0 = current }
            }
            return OperatorStreamAnswer(response: response, body: responseBody, master: current)
        }
    }

    /// The master to send to: the last one that answered, else the detector's current leader.
    private func resolveLeader(_ detector: MasterDetector) async throws(MesosError) -> MasterLocation {
        if let known = self.leader.withLock({ $0 }) {
            return known
        }
        var iterator = detector.leaders.makeAsyncIterator()
        let observation: MasterLocation??
        do {
            observation = try await iterator.next()
        } catch let error as MesosError where error.code == .cancelled {
            throw error
        } catch is CancellationError {
            throw MesosError(code: .cancelled, message: "Master detection was cancelled")
        } catch {
            throw MesosError(code: .noLeader, message: "Master detection failed: \(error)", cause: error)
        }
        guard let observation else {
            throw MesosError(code: .noLeader, message: "The master detector has shut down")
        }
        guard let location = observation else {
            throw MesosError(code: .noLeader, message: "No leading master right now")
        }
        return location
    }

    /// `path` under `base` (whose own path, if any, is kept).
    static func endpoint(_ base: URL, path: String) -> URL {
        base.appendingPathComponent(String(path.drop { $0 == "/" }))
    }
}
