internal import CCurl
import MesosCore

/// libcurl's own account of a failure; travels as ``MesosError/cause``.
struct CurlError: Error, Sendable, CustomStringConvertible {
    /// The numeric `CURLcode` (or `CURLMcode` for multi-handle failures).
    let code: Int
    /// `curl_easy_strerror` of the code.
    let summary: String
    /// The text libcurl left in `CURLOPT_ERRORBUFFER`, often more specific than ``summary``.
    let detail: String

    var description: String {
        self.detail.isEmpty ? "curl error \(self.code): \(self.summary)" : "curl error \(self.code): \(self.summary): \(self.detail)"
    }

    init(code: Int, summary: String, detail: String = "") {
        self.code = code
        self.summary = summary
        self.detail = detail
    }

    init(_ code: CURLcode, detail: String = "") {
        self.init(code: Int(code.rawValue), summary: String(cString: curl_easy_strerror(code)), detail: detail)
    }

    /// Maps a failed transfer to the ``MesosError`` the port requires.
    ///
    /// - Parameters:
    ///   - code: The transfer's result.
    ///   - detail: The error buffer's text.
    ///   - context: What was being done, e.g. `POST http://host/api/v1/scheduler`.
    ///   - phase: Where it failed, e.g. `before the response head` or `while reading the body`.
    /// - Returns: ``MesosError/Code/timeout`` for curl's timeouts, ``MesosError/Code/tlsVerificationFailed``
    ///   for an unverifiable server certificate or unusable CA/client certificate files,
    ///   ``MesosError/Code/transportFailure`` otherwise.
    static func mesosError(_ code: CURLcode, detail: String, context: String, phase: String) -> MesosError {
        let cause = CurlError(code, detail: detail)
        let mesosCode: MesosError.Code
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            mesosCode = .timeout
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE:
            mesosCode = .tlsVerificationFailed
        default:
            mesosCode = .transportFailure
        }
        var message = "\(context) failed \(phase): \(cause.summary) (curl error \(cause.code))"
        if !detail.isEmpty {
            message += ": \(detail)"
        }
        return MesosError(code: mesosCode, message: message, cause: cause)
    }
}

/// `curl_global_init`, run once per process on first use (Swift initializes globals lazily and thread-safely).
let curlGlobalInitialization: CURLcode = swift_mesos_curl_global_init()
