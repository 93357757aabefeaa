internal import CCurl
import Foundation
import MesosCore
import Synchronization

/// One request and its response: the curl easy handle, the response head, and the bounded queue of unread body
/// chunks between the engine thread (producer) and the body's consumer.
///
/// Threading: the properties marked "engine thread" are set up by the initializer on
/// the caller's thread before the transfer is posted to the engine, and from then on are used only by the engine
/// thread (callbacks run there too). Everything the consumer side shares with the engine thread lives in
/// ``state``, behind a mutex. Hence `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    typealias HeadWaiter = CheckedContinuation<Result<MesosHTTPResponse, MesosError>, Never>
    typealias BodyWaiter = CheckedContinuation<Result<ArraySlice<UInt8>?, MesosError>, Never>

    private struct State {
        var headResult: Result<MesosHTTPResponse, MesosError>?
        var headWaiter: HeadWaiter?
        /// Unread chunks from `chunkStart` on.
        var chunks: [ArraySlice<UInt8>] = []
        var chunkStart = 0
        var bufferedBytes = 0
        /// The write callback paused the transfer because the queue was full.
        var pausedForConsumer = false
        var bodyWaiter: BodyWaiter?
        /// How the response ended (set once), and whether the consumer has been told.
        var end: Result<Void, MesosError>?
        var endDelivered = false
        var cancelled = false
        var iteratorCreated = false
    }

    /// `METHOD URL`, for messages.
    let context: String
    /// The request's idle timeout.
    let idleTimeout: Duration?
    private let engine: CurlEngine
    private let maximumBufferedBytes: Int
    private let resumeThreshold: Int
    private let state = LockedValue(State())

    // Engine thread (see the type's discussion).
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var requestBody: UnsafeMutableRawBufferPointer?
    private var headerFields: [(name: String, value: String)] = []
    private var parsedStatus = 0
    private var headComplete = false
    /// The write callback returned `CURL_WRITEFUNC_PAUSE` and no unpause has been applied since.
    var curlPaused = false
    /// When bytes last arrived (or the transfer started or resumed).
    var lastActivity = ContinuousClock.Instant.now

    private init(context: String, idleTimeout: Duration?, engine: CurlEngine, maximumBufferedBytes: Int) {
        self.context = context
        self.idleTimeout = idleTimeout
        self.engine = engine
        self.maximumBufferedBytes = max(1, maximumBufferedBytes)
        self.resumeThreshold = self.maximumBufferedBytes / 2
        let errorSize = swift_mesos_curl_error_size()
        self.errorBuffer = .allocate(capacity: errorSize)
        self.errorBuffer.initialize(repeating: 0, count: errorSize)
    }

    deinit {
        if let easy = self.easy {
            curl_easy_cleanup(easy)
        }
        if let headerList = self.headerList {
            curl_slist_free_all(headerList)
        }
        self.requestBody?.deallocate()
        self.errorBuffer.deallocate()
    }

    /// Creates a transfer with a fully configured easy handle, not yet started.
    ///
    /// - Throws: ``MesosError/Code/transportFailure`` for a request libcurl cannot send (bad scheme, method or
    ///   header) or if libcurl is unusable.
    convenience init(
        request: MesosHTTPRequest,
        configuration: MesosCurlTransport.Configuration,
        engine: CurlEngine
    ) throws(MesosError) {
        self.init(
            context: "\(request.method) \(request.url.absoluteString)",
            idleTimeout: request.idleTimeout,
            engine: engine,
            maximumBufferedBytes: configuration.maximumBufferedBytesPerResponse
        )
        try self.configure(request: request, configuration: configuration)
    }

    // MARK: - Setup (caller's thread, before the engine sees the transfer)

    private func invalid(_ reason: String) -> MesosError {
        MesosError(code: .transportFailure, message: "\(self.context) cannot be sent: \(reason)")
    }

    private func configure(request: MesosHTTPRequest, configuration: MesosCurlTransport.Configuration) throws(MesosError) {
        guard !self.engine.isUnavailable else {
            let cause = CurlError(curlGlobalInitialization)
            throw MesosError(
                code: .transportFailure,
                message: "\(self.context) cannot be sent: libcurl could not be initialized (\(cause.summary))",
                cause: cause
            )
        }
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

        set(CURLOPT_URL, request.url.absoluteString, "CURLOPT_URL")
        check(swift_mesos_curl_restrict_to_http(easy), "CURLOPT_PROTOCOLS_STR")
        set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
        set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1), "CURLOPT_HTTP_VERSION")
        // Hand the body over as it came: no Content-Encoding decoding (and no Accept-Encoding is sent).
        set(CURLOPT_HTTP_CONTENT_DECODING, 0, "CURLOPT_HTTP_CONTENT_DECODING")
        set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1, "CURLOPT_SUPPRESS_CONNECT_HEADERS")
        set(CURLOPT_TCP_KEEPALIVE, 1, "CURLOPT_TCP_KEEPALIVE")
        set(CURLOPT_CONNECTTIMEOUT_MS, max(1, Self.milliseconds(configuration.connectTimeout)), "CURLOPT_CONNECTTIMEOUT_MS")
        if let total = request.timeout ?? configuration.defaultCallTimeout {
            set(CURLOPT_TIMEOUT_MS, max(1, Self.milliseconds(total)), "CURLOPT_TIMEOUT_MS")
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

        // Callbacks.
        let userData = Unmanaged.passUnretained(self).toOpaque()
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

    /// A duration in whole milliseconds, rounded up; 0 for zero or negative durations.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 || (seconds == 0 && attoseconds > 0) else {
            return 0
        }
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let fraction = (attoseconds + perMillisecond - 1) / perMillisecond
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else {
            return Int.max
        }
        return Int(clamping: whole.addingReportingOverflow(fraction).overflow ? Int64.max : whole + fraction)
    }

    // MARK: - Caller side

    /// Whether the transfer was cancelled (by the consumer or by dropping it).
    var isCancelled: Bool {
        self.state.withLock { $0.cancelled }
    }

    /// The error for a request cancelled by its task.
    static func cancellationError(for request: MesosHTTPRequest, phase: String) -> MesosError {
        MesosError(
            code: .cancelled,
            message: "\(request.method) \(request.url.absoluteString) was cancelled \(phase)",
            cause: CancellationError()
        )
    }

    private func cancellationError(phase: String) -> MesosError {
        MesosError(code: .cancelled, message: "\(self.context) was cancelled \(phase)", cause: CancellationError())
    }

    /// Hands the transfer to the engine and waits for the response head.
    ///
    /// - Throws: ``MesosError``; cancelling the task aborts the transfer.
    func start() async throws(MesosError) -> MesosHTTPResponse {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: HeadWaiter) in
                let ready = self.state.withLock { state -> Result<MesosHTTPResponse, MesosError>? in
                    if let result = state.headResult {
                        return result
                    }
                    state.headWaiter = waiter
                    return nil
                }
                if let ready {
                    waiter.resume(returning: ready)
                } else if !self.engine.post(.add(self)) {
                    self.finish(failure: MesosError(code: .transportFailure, message: "\(self.context): the transport has shut down"))
                }
            }
        } onCancel: {
            self.cancel(self.cancellationError(phase: "before the response head arrived"))
        }
        return try result.get()
    }

    /// Returns the next body chunk, `nil` at the end, waiting if none is buffered.
    func nextChunk() async throws(MesosError) -> ArraySlice<UInt8>? {
        if Task.isCancelled {
            self.cancel(self.cancellationError(phase: "while reading the response body"))
        }
        let (ready, resume) = self.state.withLock { Self.takeNext(&$0, resumeThreshold: self.resumeThreshold) }
        if resume {
            self.engine.post(.unpause(self))
        }
        if let ready {
            return try ready.get()
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: BodyWaiter) in
                let (ready, resume) = self.state.withLock { state in
                    let next = Self.takeNext(&state, resumeThreshold: self.resumeThreshold)
                    if next.0 == nil {
                        state.bodyWaiter = waiter
                    }
                    return next
                }
                if resume {
                    self.engine.post(.unpause(self))
                }
                if let ready {
                    waiter.resume(returning: ready)
                }
            }
        } onCancel: {
            self.cancel(self.cancellationError(phase: "while reading the response body"))
        }
        return try result.get()
    }

    /// Takes the next chunk or the end, if either is there; says whether the paused transfer should resume.
    private static func takeNext(
        _ state: inout State,
        resumeThreshold: Int
    ) -> (Result<ArraySlice<UInt8>?, MesosError>?, Bool) {
        if state.chunkStart < state.chunks.count {
            let chunk = state.chunks[state.chunkStart]
            state.chunks[state.chunkStart] = []
            state.chunkStart += 1
            if state.chunkStart == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.chunkStart = 0
            }
            state.bufferedBytes -= chunk.count
            var resume = false
            if state.pausedForConsumer && state.bufferedBytes <= resumeThreshold {
                state.pausedForConsumer = false
                resume = true
            }
            return (.success(chunk), resume)
        }
        if let end = state.end {
            if state.endDelivered {
                return (.success(nil), false)
            }
            state.endDelivered = true
            switch end {
            case .success: return (.success(nil), false)
            case .failure(let error): return (.failure(error), false)
            }
        }
        return (nil, false)
    }

    /// Records that the body is being iterated; from now on dropping the iterator ends the transfer.
    func noteIteratorCreated() {
        self.state.withLock { $0.iteratorCreated = true }
    }

    /// The body value is gone: if nobody iterates it, end the transfer.
    func bodyReleased() {
        let iterated = self.state.withLock { $0.iteratorCreated }
        if !iterated {
            self.cancel(self.cancellationError(phase: "because its body was dropped"))
        }
    }

    /// Aborts the transfer (closing its connection), unless it already ended. Waiters get `error`.
    func cancel(_ error: MesosError) {
        let first = self.state.withLock { state -> Bool in
            guard !state.cancelled, state.end == nil else {
                return false
            }
            state.cancelled = true
            return true
        }
        guard first else {
            return
        }
        self.terminate(.failure(error), discardBuffered: true)
        self.engine.post(.remove(self))
    }

    // MARK: - Engine thread

    /// Fails the transfer (idle timeout, engine failure). The engine detaches the easy handle itself.
    func finish(failure error: MesosError) {
        self.terminate(.failure(error), discardBuffered: false)
    }

    /// Ends the transfer with curl's result.
    func finish(curlCode code: CURLcode) {
        if code == CURLE_OK {
            if !self.headComplete {
                self.headComplete = true
                self.deliverHead(MesosHTTPResponse(status: self.responseCode(), headers: MesosHTTPHeaders(self.headerFields)))
            }
            self.terminate(.success(()), discardBuffered: false)
        } else {
            let phase = self.headComplete ? "while reading the response body" : "before the response head arrived"
            let detail = String(cString: self.errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
            self.terminate(
                .failure(CurlError.mesosError(code, detail: detail, context: self.context, phase: phase)),
                discardBuffered: false
            )
        }
    }

    /// Frees the easy handle once it has left the multi handle (or never joined it).
    func releaseEasyHandle() {
        if let easy = self.easy {
            self.easy = nil
            curl_easy_cleanup(easy)
        }
    }

    /// The error for a transfer silent for longer than its idle timeout.
    func idleTimeoutError() -> MesosError {
        let limit = self.idleTimeout.map { "\($0)" } ?? "?"
        let phase = self.headComplete ? "in the response body" : "before the response head"
        return MesosError(code: .timeout, message: "\(self.context): no data received for \(limit) \(phase)")
    }

    private func responseCode() -> Int {
        var code = 0
        if let easy = self.easy {
            _ = swift_mesos_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        }
        return code != 0 ? code : self.parsedStatus
    }

    /// Engine thread: records the head; its waiter is resumed at the end of the engine's turn (after curl has
    /// read whatever else arrived with it, often the whole body).
    private func deliverHead(_ response: MesosHTTPResponse) {
        let waiter = self.state.withLock { state -> HeadWaiter? in
            guard state.headResult == nil else {
                return nil
            }
            state.headResult = .success(response)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        if let waiter {
            self.engine.deliverLater(waiter, response)
        }
    }

    private func terminate(_ outcome: Result<Void, MesosError>, discardBuffered: Bool) {
        let (head, body) = self.state.withLock { state -> ((HeadWaiter, MesosError)?, (BodyWaiter, Result<ArraySlice<UInt8>?, MesosError>)?) in
            guard state.end == nil else {
                return (nil, nil)
            }
            state.end = outcome
            if discardBuffered {
                state.chunks = []
                state.chunkStart = 0
                state.bufferedBytes = 0
            }
            var head: (HeadWaiter, MesosError)?
            if state.headResult == nil {
                let error: MesosError
                switch outcome {
                case .failure(let failure): error = failure
                case .success:
                    error = MesosError(code: .transportFailure, message: "\(self.context): the response ended before its head")
                }
                state.headResult = .failure(error)
                if let waiter = state.headWaiter {
                    state.headWaiter = nil
                    head = (waiter, error)
                }
            }
            var body: (BodyWaiter, Result<ArraySlice<UInt8>?, MesosError>)?
            if let waiter = state.bodyWaiter {
                // A consumer only waits when the queue is empty, so the end is next.
                state.bodyWaiter = nil
                state.endDelivered = true
                switch outcome {
                case .success: body = (waiter, .success(nil))
                case .failure(let error): body = (waiter, .failure(error))
                }
            }
            return (head, body)
        }
        if let (waiter, error) = head {
            waiter.resume(returning: .failure(error))
        }
        if let (waiter, result) = body {
            waiter.resume(returning: result)
        }
    }

    /// The header callback: one header line at a time (status lines and the blank line included). Parsed as
    /// bytes: only names and values become strings.
    fileprivate func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        self.lastActivity = .now
        guard !self.headComplete else {
            // Trailers of a chunked body: not part of the head.
            return bytes.count
        }
        let line = bytes.bindMemory(to: UInt8.self)
        var end = line.count
        while end > 0, line[end - 1] == 0x0D || line[end - 1] == 0x0A {
            end -= 1
        }
        if end == 0 {
            guard self.parsedStatus != 0 || !self.headerFields.isEmpty else {
                return bytes.count
            }
            if (100..<200).contains(self.parsedStatus) {
                // An interim response (100 Continue and the like): the real head follows.
                self.headerFields.removeAll()
                self.parsedStatus = 0
                return bytes.count
            }
            self.headComplete = true
            self.deliverHead(MesosHTTPResponse(status: self.responseCode(), headers: MesosHTTPHeaders(self.headerFields)))
            return bytes.count
        }
        if end >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"), line[2] == UInt8(ascii: "T"),
            line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
        {
            // A status line: "HTTP/1.1 202 Accepted".
            self.headerFields.removeAll()
            self.parsedStatus = Self.statusCode(in: UnsafeBufferPointer(rebasing: line[..<end]))
            return bytes.count
        }
        if line[0] == 0x20 || line[0] == 0x09 {
            // An obsolete folded continuation of the previous field.
            if !self.headerFields.isEmpty {
                let more = Self.trimmed(UnsafeBufferPointer(rebasing: line[..<end]))
                self.headerFields[self.headerFields.count - 1].value += " " + String(decoding: more, as: UTF8.self)
            }
            return bytes.count
        }
        guard let colon = line[..<end].firstIndex(of: UInt8(ascii: ":")) else {
            return bytes.count
        }
        let name = Self.trimmed(UnsafeBufferPointer(rebasing: line[..<colon]))
        let value = Self.trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)..<end]))
        if !name.isEmpty {
            self.headerFields.append((name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return bytes.count
    }

    /// The bytes without leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 {
            start += 1
        }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 {
            end -= 1
        }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    /// The status code of a status line (the digits after the first run of spaces), 0 if there is none.
    private static func statusCode(in line: UnsafeBufferPointer<UInt8>) -> Int {
        var index = 0
        while index < line.count, line[index] != 0x20 {
            index += 1
        }
        while index < line.count, line[index] == 0x20 {
            index += 1
        }
        var code = 0
        var digits = 0
        while index < line.count, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9"), digits < 4 {
            code = code * 10 + Int(line[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        guard digits > 0, index == line.count || line[index] == 0x20 else {
            return 0
        }
        return code
    }

    /// The write callback: queues a body chunk, or pauses the transfer when the queue is full.
    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        self.lastActivity = .now
        guard bytes.count > 0 else {
            return 0
        }
        enum Action {
            case handOver(BodyWaiter, ArraySlice<UInt8>)
            case queued
            case pause
            case abort
        }
        let chunk = [UInt8](bytes)[...]
        let action = self.state.withLock { state -> Action in
            if state.cancelled || state.end != nil {
                return .abort
            }
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .handOver(waiter, chunk)
            }
            if state.bufferedBytes >= self.maximumBufferedBytes {
                state.pausedForConsumer = true
                return .pause
            }
            state.chunks.append(chunk)
            state.bufferedBytes += chunk.count
            return .queued
        }
        switch action {
        case .handOver(let waiter, let chunk):
            waiter.resume(returning: .success(chunk))
            return bytes.count
        case .queued:
            return bytes.count
        case .pause:
            // curl keeps these bytes and delivers them again after curl_easy_pause(CURLPAUSE_CONT).
            self.curlPaused = true
            return swift_mesos_curl_writefunc_pause()
        case .abort:
            return 0
        }
    }
}

private func curlWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let userData else {
        return 0
    }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private func curlHeaderCallback(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let userData else {
        return 0
    }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData).takeUnretainedValue()
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
}
