import Dispatch
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One URLSession with its routing delegate and inline delegate queue.
final class SessionHandle: @unchecked Sendable {
    let session: URLSession
    let delegate: SessionDelegate

    /// Creates a session whose own timeouts never fire (the exchanges enforce the transport's limits).
    init(maximumConnectionsPerHost: Int, tls: MesosURLSessionTransport.Configuration.TLS) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Conversion.disabledTimeout
        configuration.timeoutIntervalForResource = Conversion.disabledTimeout
        configuration.httpMaximumConnectionsPerHost = max(1, maximumConnectionsPerHost)
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCredentialStorage = nil
        self.delegate = SessionDelegate(tls: tls)
        self.session = URLSession(configuration: configuration, delegate: self.delegate, delegateQueue: InlineDelegateQueue())
    }

    /// Creates the task for `request`, routes it to `exchange` and starts it.
    ///
    /// This runs on the exchange's queue, not on the caller's thread: creating and resuming a task synchronise
    /// with the session's work queue, which may be blocked by a paused response of the same session.
    func start(_ request: URLRequest, exchange: Exchange) {
        let box = UncheckedBox(request)
        exchange.queue.async {
            let task = self.session.dataTask(with: box.value)
            self.delegate.register(exchange, for: task)
            exchange.attach(task)
            task.resume()
        }
    }

    /// Lets running tasks finish, then releases the session (and its connections).
    func invalidate() {
        DispatchQueue(label: "MesosURLSessionTransport.invalidate").async {
            self.session.finishTasksAndInvalidate()
        }
    }
}
