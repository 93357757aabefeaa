import Dispatch
import Foundation
import MesosCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The delegate of one URLSession: routes callbacks to the ``Exchange`` of each task.
///
/// Its callbacks run on the session's work queue (``InlineDelegateQueue``).
final class SessionDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// The exchange of each running task, by task identifier.
    private let exchanges = LockedValue<[Int: Exchange]>([:])
    private let trust: ServerTrustPolicy
    private let challengeQueue = DispatchQueue(label: "MesosURLSessionTransport.challenge")

    init(tls: MesosURLSessionTransport.Configuration.TLS) {
        self.trust = ServerTrustPolicy(tls: tls)
    }

    /// Routes the callbacks of `task` to `exchange` until the task completes.
    func register(_ exchange: Exchange, for task: URLSessionTask) {
        self.exchanges.withLock { $0[task.taskIdentifier] = exchange }
    }

    private func exchange(for task: URLSessionTask, remove: Bool = false) -> Exchange? {
        let id = task.taskIdentifier
        return self.exchanges.withLock { remove ? $0.removeValue(forKey: id) : $0[id] }
    }

    /// The number of tasks still running (for tests).
    var activeTaskCount: Int {
        self.exchanges.withLock { $0.count }
    }

    func urlSession(
        _ session: URLSession,
        dataTask: URLSessionDataTask,
        didReceive response: URLResponse,
        completionHandler: @Sendable @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if let exchange = self.exchange(for: dataTask) {
            if let httpResponse = response as? HTTPURLResponse {
                exchange.deliverHead(Conversion.response(from: httpResponse))
            } else {
                exchange.abort(MesosError(code: .transportFailure, message: "Response from \(exchange.url) is not HTTP"))
            }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        self.exchange(for: dataTask)?.deliver(data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let exchange = self.exchange(for: task, remove: true) else { return }
        let fallback = (task.response as? HTTPURLResponse).map(Conversion.response(from:))
        exchange.complete(error: error, fallbackResponse: fallback)
    }

    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @Sendable @escaping (URLRequest?) -> Void
    ) {
        // Never follow: the 3xx itself becomes the response (the client follows Mesos redirects itself).
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession,
        dataTask: URLSessionDataTask,
        willCacheResponse proposedResponse: CachedURLResponse,
        completionHandler: @Sendable @escaping (CachedURLResponse?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession,
        didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @Sendable @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        let (disposition, credential) = self.trust.evaluate(challenge)
        let box = UncheckedBox(credential)
        // Answered off the session's queue: some dispositions make URLSession synchronise with it.
        self.challengeQueue.async {
            completionHandler(disposition, box.value)
        }
    }

    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @Sendable @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        let exchange = self.exchange(for: task)
        var (disposition, credential) = self.trust.evaluate(challenge)
        if !ServerTrustPolicy.isServerTrust(challenge) {
            // An HTTP authentication challenge (a 401 with WWW-Authenticate): the 401 and its body have already
            // reached the consumer. swift-corelibs-foundation holds the task open waiting for credentials (and with
            // none, forever), so end the exchange here as a complete response and let URLSession cancel the task.
            exchange?.completeWithoutError()
            disposition = .cancelAuthenticationChallenge
            credential = nil
        }
        let answer = UncheckedBox((disposition, credential))
        // Answered off the session's queue: cancelling synchronises with it.
        (exchange?.queue ?? self.challengeQueue).async {
            completionHandler(answer.value.0, answer.value.1)
        }
    }
}
