internal import CCurl
import Foundation
import MesosCore

/// The libcurl easy handle of one request, configured for it, and the C memory the handle points into (header
/// list, request body, error buffer), freed together.
///
/// Threading: configured on the caller's thread before its transfer is posted to the engine; from then on used
/// only by the engine thread.
final class CurlEasyHandle {
    /// The easy handle; `nil` once released.
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var requestBody: UnsafeMutableRawBufferPointer?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// `METHOD URL`, for messages.
    private let context: String

    /// Creates an easy handle for `request`, with its callbacks pointing at `userData` (the transfer).
    ///
    /// - Throws: ``MesosError/Code/transportFailure`` for a request libcurl cannot send (bad scheme, method or
    ///   header) or if libcurl is unusable.
    init(
        request: MesosHTTPRequest,
        configuration: MesosCurlTransport.Configuration,
        context: String,
        userData: UnsafeMutableRawPointer
    ) throws(MesosError) {
        self.context = context
        let errorSize = swift_mesos_curl_error_size()
        self.errorBuffer = .allocate(capacity: errorSize)
        self.errorBuffer.initialize(repeating: 0, count: errorSize)
        try self.configure(request: request, configuration: configuration, userData: userData)
    }

    deinit {
        self.release()
        if let headerList = self.headerList {
            curl_slist_free_all(headerList)
        }
        self.requestBody?.deallocate()
        self.errorBuffer.deallocate()
    }

    /// Frees the easy handle once it has left the multi handle (or never joined it).
    func release() {
        if let easy = self.easy {
            self.easy = nil
            curl_easy_cleanup(easy)
        }
    }

    /// curl's own text for the last failure, if it wrote one.
    var errorText: String {
        String(cString: self.errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The response status as curl parsed it, or 0.
    var responseCode: Int {
        var code = 0
        if let easy = self.easy {
            _ = swift_mesos_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        }
        return code
    }

    private func invalid(_ reason: String) -> MesosError {
        MesosError(code: .transportFailure, message: "\(self.context) cannot be sent: \(reason)")
    }

    private func configure(
        request: MesosHTTPRequest,
        configuration: MesosCurlTransport.Configuration,
        userData: UnsafeMutableRawPointer
    ) throws(MesosError) {
        let scheme = request.url.scheme?.lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw self.invalid("only http and https URLs are supported")
        }
        let method = request.method
        guard !method.isEmpty, method.utf8.allSatisfy(Self.isTokenByte) else {
            throw self.invalid("invalid HTTP method \(String(reflecting: method))")
        }
        guard let easy = curl_easy_init() else {
            throw self.invalid("curl_easy_init failed")
        }
        self.easy = easy

        var failure: (option: String, code: CURLcode)?
        func check(_ code: CURLcode, _ option: String) {
            if code != CURLE_OK && failure == nil {
                failure = (option, code)
            }
        }
        func set(_ option: CURLoption, _ value: Int, _ name: String) {
            check(swift_mesos_curl_setopt_long(easy, option, value), name)
        }
        func set(_ option: CURLoption, _ value: String, _ name: String) {
            check(swift_mesos_curl_setopt_string(easy, option, value), name)
        }
        func set(milliseconds option: CURLoption, _ duration: Duration, _ name: String) {
            set(option, Int(clamping: max(1, duration.inMillisecondsRoundedUp)), name)
        }

        set(CURLOPT_URL, request.url.absoluteString, "CURLOPT_URL")
        check(swift_mesos_curl_restrict_to_http(easy), "CURLOPT_PROTOCOLS_STR")
        set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
        set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1), "CURLOPT_HTTP_VERSION")
        // Hand the body over as it came: no Content-Encoding decoding (and no Accept-Encoding is sent).
        set(CURLOPT_HTTP_CONTENT_DECODING, 0, "CURLOPT_HTTP_CONTENT_DECODING")
        set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1, "CURLOPT_SUPPRESS_CONNECT_HEADERS")
        set(CURLOPT_TCP_KEEPALIVE, 1, "CURLOPT_TCP_KEEPALIVE")
        set(milliseconds: CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout, "CURLOPT_CONNECTTIMEOUT_MS")
        if let total = request.timeout ?? configuration.defaultCallTimeout {
            set(milliseconds: CURLOPT_TIMEOUT_MS, total, "CURLOPT_TIMEOUT_MS")
        }
        set(CURLOPT_VERBOSE, configuration.verbose ? 1 : 0, "CURLOPT_VERBOSE")
        check(swift_mesos_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, self.errorBuffer), "CURLOPT_ERRORBUFFER")

        // TLS.
        set(CURLOPT_SSL_VERIFYPEER, configuration.tls.verifyPeer ? 1 : 0, "CURLOPT_SSL_VERIFYPEER")
        set(CURLOPT_SSL_VERIFYHOST, configuration.tls.verifyPeer ? 2 : 0, "CURLOPT_SSL_VERIFYHOST")
        if let path = configuration.tls.caBundlePath {
            set(CURLOPT_CAINFO, path, "CURLOPT_CAINFO")
        }
        if let path = configuration.tls.clientCertificatePath {
            set(CURLOPT_SSLCERT, path, "CURLOPT_SSLCERT")
        }
        if let path = configuration.tls.clientKeyPath {
            set(CURLOPT_SSLKEY, path, "CURLOPT_SSLKEY")
        }

        // Callbacks (CurlCallbacks.swift).
        check(swift_mesos_curl_setopt_write_callback(easy, curlWriteCallback), "CURLOPT_WRITEFUNCTION")
        check(swift_mesos_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, userData), "CURLOPT_WRITEDATA")
        check(swift_mesos_curl_setopt_header_callback(easy, curlHeaderCallback), "CURLOPT_HEADERFUNCTION")
        check(swift_mesos_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, userData), "CURLOPT_HEADERDATA")

        // Method and body.
        switch (method, request.body) {
        case ("GET", nil):
            set(CURLOPT_HTTPGET, 1, "CURLOPT_HTTPGET")
        case ("HEAD", nil):
            set(CURLOPT_NOBODY, 1, "CURLOPT_NOBODY")
        default:
            if request.body != nil || method == "POST" {
                let bytes = request.body ?? []
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
                buffer.copyBytes(from: bytes)
                self.requestBody = buffer
                check(
                    swift_mesos_curl_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)),
                    "CURLOPT_POSTFIELDSIZE_LARGE"
                )
                check(swift_mesos_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, buffer.baseAddress), "CURLOPT_POSTFIELDS")
            }
            if method != "POST" {
                set(CURLOPT_CUSTOMREQUEST, method, "CURLOPT_CUSTOMREQUEST")
            }
        }

        // Headers: exactly the caller's, so curl's own defaults (Accept, Content-Type, Expect) are removed
        // unless the caller set them.
        var given = Set<String>()
        var lines: [String] = []
        for field in request.headers.fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(Self.isTokenByte) else {
                throw self.invalid("invalid header name \(String(reflecting: field.name))")
            }
            guard !field.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw self.invalid("invalid value for header \(field.name)")
            }
            given.insert(field.name.lowercased())
            // "Name;" is curl's way to send a header with an empty value.
            lines.append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        for name in ["Accept", "Content-Type", "Expect"] where !given.contains(name.lowercased()) {
            lines.append("\(name):")
        }
        for line in lines {
            guard let list = curl_slist_append(self.headerList, line) else {
                throw self.invalid("out of memory building the header list")
            }
            self.headerList = list
        }
        check(swift_mesos_curl_setopt_pointer(easy, CURLOPT_HTTPHEADER, self.headerList), "CURLOPT_HTTPHEADER")

        if let failure {
            let cause = CurlError(failure.code)
            throw MesosError(
                code: .transportFailure,
                message: "\(self.context) cannot be sent: setting \(failure.option) failed: \(cause.summary)",
                cause: cause
            )
        }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
