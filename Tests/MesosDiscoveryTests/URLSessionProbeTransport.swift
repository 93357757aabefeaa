import Foundation
import MesosCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A minimal real HTTP transport for the tests against real masters: whole bodies (fine for
/// `/master/redirect`), no redirect following, errors mapped to ``MesosError`` as the port demands.
final class URLSessionProbeTransport: NSObject, MesosTransport, URLSessionTaskDelegate, @unchecked Sendable {
    // The session is created once in init and only used afterwards; URLSession is thread-safe.
    private var session: URLSession!

    override init() {
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        self.session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    deinit {
        self.session.invalidateAndCancel()
    }

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        try await MesosError.catching(context: "\(request.method) \(request.url)") { try await self.exchange(request) }
    }

    private func exchange(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers {
            urlRequest.addValue(value, forHTTPHeaderField: name)
        }
        if let body = request.body {
            urlRequest.httpBody = Data(body)
        }
        if let timeout = request.timeout {
            urlRequest.timeoutInterval = timeout.inSeconds
        }
        let session = self.session!
        return try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: urlRequest) { data, response, error in
                if let error {
                    let code: MesosError.Code = (error as? URLError)?.code == .timedOut ? .timeout : .transportFailure
                    continuation.resume(
                        throwing: MesosError(code: code, message: "\(request.url): \(error.localizedDescription)", cause: error)
                    )
                    return
                }
                guard let http = response as? HTTPURLResponse else {
                    continuation.resume(throwing: MesosError(code: .transportFailure, message: "\(request.url): no HTTP response"))
                    return
                }
                var headers = MesosHTTPHeaders()
                for (name, value) in http.allHeaderFields {
                    headers.add(name: String(describing: name), value: String(describing: value))
                }
                continuation.resume(
                    returning: (MesosHTTPResponse(status: http.statusCode, headers: headers), MesosResponseBody(bytes: Array(data ?? Data())))
                )
            }
            task.resume()
        }
    }

    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)  // the port never follows redirects
    }
}
