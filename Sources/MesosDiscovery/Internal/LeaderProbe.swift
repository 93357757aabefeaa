import MesosCore

/// One `GET /master/redirect` to one master, and what it says about the leader.
struct LeaderProbe {
    /// What a master answered.
    enum Outcome: Sendable {
        /// 307: this master names the leader.
        case leader(MasterLocation)
        /// 503: this master knows no leader right now.
        case noLeader
        /// Anything else: no usable answer from this master.
        case failed(MesosError)
    }

    /// The most body bytes read from an answer (only kept for error messages).
    static let bodyLimit = 16 * 1024

    let transport: any MesosTransport
    let timeout: Duration

    /// Asks one master.
    ///
    /// - Parameter master: The master to ask.
    /// - Returns: The outcome.
    /// - Throws: `CancellationError` when the task is cancelled; nothing else.
    func probe(_ master: MasterLocation) async throws -> Outcome {
        let request = MesosHTTPRequest(
            method: "GET",
            url: master.baseURL.appendingPathComponent("master/redirect"),
            headers: ["Accept": "*/*"],
            timeout: self.timeout
        )
        let response: MesosHTTPResponse
        let body: MesosResponseBody
        do {
            (response, body) = try await self.transport.send(request)
        } catch {
            return try Self.failure(error, master: master)
        }
        let text: String
        do {
            text = String(decoding: try await body.collect(upTo: Self.bodyLimit), as: UTF8.self)
        } catch {
            // The head is what matters; a broken or oversized body only loses the error text.
            if Task.isCancelled { throw CancellationError() }
            text = ""
        }
        switch response.status {
        case 300..<400:
            guard let location = response.headers["Location"] else {
                return .failed(
                    MesosError(
                        code: .notLeader,
                        message: "\(master) answered /master/redirect with \(response.status) but no Location",
                        httpStatus: response.status
                    )
                )
            }
            guard let leader = MasterLocation(redirectLocation: location, relativeTo: master) else {
                return .failed(
                    MesosError(
                        code: .decodingFailed,
                        message: "\(master) named the leader as '\(location)', which is not //host[:port]",
                        httpStatus: response.status
                    )
                )
            }
            return .leader(leader)
        case 503:
            return .noLeader
        default:
            var error = MesosError.httpStatus(response.status, body: text)
            error.message = "\(master)/master/redirect: " + error.message
            return .failed(error)
        }
    }

    private static func failure(_ error: any Error, master: MasterLocation) throws -> Outcome {
        if error is CancellationError || Task.isCancelled {
            throw CancellationError()
        }
        guard let mesosError = error as? MesosError else {
            return .failed(
                MesosError(code: .transportFailure, message: "\(master): \(error)", cause: error)
            )
        }
        if mesosError.code == .cancelled {
            throw CancellationError()
        }
        return .failed(mesosError)
    }
}
