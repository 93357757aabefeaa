import Foundation
import MesosCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A ``MesosTransport`` built on Foundation's `URLSession`.
///
/// It meets the ``MesosTransport`` contract on Linux (swift-corelibs-foundation, which drives libcurl) with
/// delegate-based streaming:
/// - ``send(_:)`` returns as soon as the response head is in; the body streams chunk by chunk.
/// - Redirects are not followed: a 307 is returned with its `Location`.
/// - Backpressure: at most ``Configuration/maximumBufferedBytesPerResponse`` unread bytes are kept per response;
///   then the delegate callback blocks, URLSession stops reading the socket and the server stops sending.
/// - Cancelling the consuming task, or dropping the body's iterator (or the body before iterating it), cancels
///   the URLSession task, which closes the connection.
/// - ``MesosHTTPRequest/timeout`` bounds the whole exchange, ``MesosHTTPRequest/idleTimeout`` the silence
///   between two pieces of the body (time paused by a slow consumer does not count), and
///   ``Configuration/connectTimeout`` the wait for the response head. URLSession's own timeouts are disabled.
/// - Errors are ``MesosError``s: `URLError.timedOut` becomes ``MesosError/Code/timeout``, `.cancelled`
///   ``MesosError/Code/cancelled``, anything else ``MesosError/Code/transportFailure``, with the `URLError` as
///   ``MesosError/cause``.
///
/// ## Where URLSession differs from the other transports
/// - **Compression.** URLSession cannot hand over a compressed body: libcurl decodes gzip, deflate, br and
///   zstd itself. So that servers send what they send to the other transports, a request without an
///   `Accept-Encoding` header goes out with `Accept-Encoding: identity` (URLSession would otherwise advertise
///   every coding it knows). If the caller asks for compression, the body arrives decoded and the response
///   head has no `Content-Encoding` or `Content-Length`, so decoding it again (as `MesosCompression` does
///   for the other transports) is a no-op.
/// - **Headers.** URLSession keeps request and response headers in dictionaries: repeated request headers are
///   joined with ", ", response headers come sorted by name. It adds `User-Agent`, `Accept: */*`,
///   `Accept-Language` and `Connection: keep-alive` when the request has none, and
///   `Content-Type: application/x-www-form-urlencoded` to a `POST` body without a `Content-Type`.
/// - **A 3xx without a usable `Location`** is returned with an empty body (URLSession drops it).
/// - **TLS options** apply on Apple platforms only; see ``Configuration/TLS``.
/// - **Streams.** A request without any whole-exchange limit is a stream: it gets a URLSession of its own
///   (``Configuration/dedicatedSessionForStreams``) and, on Linux, a warm-up `GET` first
///   (``Configuration/preconnectStreams``) that keeps an idle stream from costing a CPU core.
///
/// Ordinary calls share one kept-alive session per transport, so consecutive calls reuse connections and
/// several calls run at once.
///
/// ```swift
/// let transport: some MesosTransport = .urlSession()
/// let (response, body) = try await transport.send(request)
/// for try await event in body.schedulerEvents(codec: MesosCodec(.json)) { … }
/// ```
public struct MesosURLSessionTransport: MesosTransport {
    /// The configuration the transport was created with.
    public let configuration: Configuration

    private let core: Core

    /// Creates a transport with its shared session.
    ///
    /// - Parameter configuration: Timeouts, buffering, connection limits and TLS settings.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.core = Core(configuration: configuration)
    }

    /// Sends a request and returns the response head as soon as it arrives, with the body still streaming.
    ///
    /// - Parameter request: The request. `timeout` (or ``Configuration/defaultCallTimeout``) bounds the whole
    ///   exchange, `idleTimeout` the longest silence in the body.
    /// - Returns: The status and headers, and the body as a stream of chunks.
    /// - Throws: ``MesosError`` with code ``MesosError/Code/transportFailure`` (connection, TLS or protocol
    ///   failure), ``MesosError/Code/timeout``, ``MesosError/Code/cancelled``, or
    ///   ``MesosError/Code/invalidConfiguration`` for TLS settings this platform cannot apply.
    public func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        if Task.isCancelled {
            throw MesosError(code: .cancelled, message: "Request to \(request.url) was cancelled before it was sent")
        }
        if request.url.scheme?.lowercased() == "https", !self.configuration.tls.isSupportedOnThisPlatform {
            throw MesosError(
                code: .invalidConfiguration,
                message: "MesosURLSessionTransport cannot apply TLS verifyPeer=false or a CA bundle on this platform "
                    + "(swift-corelibs-foundation has no API for them); use MesosCurlTransport or the system trust store"
            )
        }
        let callTimeout = request.timeout ?? self.configuration.defaultCallTimeout
        let isStream = callTimeout == nil
        let handle: SessionHandle
        let dedicated = isStream && self.configuration.dedicatedSessionForStreams
        if dedicated {
            handle = SessionHandle(maximumConnectionsPerHost: 1, tls: self.configuration.tls)
            if self.configuration.preconnectStreams {
                await self.preconnect(handle, to: request.url)
                if Task.isCancelled {
                    handle.invalidate()
                    throw MesosError(code: .cancelled, message: "Request to \(request.url) was cancelled before it was sent")
                }
            }
        } else {
            handle = self.core.shared
        }
        let onFinish: (@Sendable () -> Void)?
        if dedicated {
            let dedicatedHandle = handle
            onFinish = { dedicatedHandle.invalidate() }
        } else {
            onFinish = nil
        }
        let exchange = Exchange(
            url: request.url,
            maximumBufferedBytes: self.configuration.maximumBufferedBytesPerResponse,
            connectTimeout: self.configuration.connectTimeout,
            callTimeout: callTimeout,
            idleTimeout: request.idleTimeout,
            onFinish: onFinish
        )
        handle.start(Conversion.urlRequest(for: request), exchange: exchange)
        let head = try await exchange.awaitHead()
        return (head, MesosResponseBody(URLSessionBody(exchange: exchange)))
    }

    /// Opens the connection a stream will reuse: a `GET` of the same URL, its answer read and discarded.
    /// Failures are ignored; the stream then simply opens its own connection.
    private func preconnect(_ handle: SessionHandle, to url: URL) async {
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        request.cachePolicy = .reloadIgnoringLocalCacheData
        request.timeoutInterval = Conversion.disabledTimeout
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let exchange = Exchange(
            url: url,
            maximumBufferedBytes: 64 << 10,
            connectTimeout: self.configuration.connectTimeout,
            callTimeout: self.configuration.connectTimeout,
            idleTimeout: nil
        )
        handle.start(request, exchange: exchange)
        guard (try? await exchange.awaitHead()) != nil else { return }
        var received = 0
        do {
            for try await chunk in URLSessionBody(exchange: exchange) {
                received += chunk.count
                if received > 64 << 10 { break }
            }
        } catch {
            return
        }
    }

    /// The number of requests of the shared session whose URLSession task is still running (for tests).
    var sharedSessionActiveTaskCount: Int {
        self.core.shared.delegate.activeTaskCount
    }

    /// Owns the shared session and releases it when the last copy of the transport is gone.
    private final class Core: Sendable {
        let shared: SessionHandle

        init(configuration: Configuration) {
            self.shared = SessionHandle(
                maximumConnectionsPerHost: configuration.maximumConnectionsPerHost,
                tls: configuration.tls
            )
        }

        deinit {
            self.shared.invalidate()
        }
    }
}

extension MesosTransport where Self == MesosURLSessionTransport {
    /// A transport built on Foundation's URLSession.
    ///
    /// ```swift
    /// let client = MesosSchedulerClient(transport: .urlSession())
    /// ```
    ///
    /// - Parameter configuration: Timeouts, buffering, connection limits and TLS settings.
    /// - Returns: The transport.
    public static func urlSession(configuration: MesosURLSessionTransport.Configuration = .init()) -> MesosURLSessionTransport {
        MesosURLSessionTransport(configuration: configuration)
    }
}
