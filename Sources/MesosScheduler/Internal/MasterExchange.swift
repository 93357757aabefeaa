import Foundation
import MesosCore

/// Sends requests to the master: content headers, authorization (refreshed once on 401), and redirects to
/// the leader (307 with a scheme-relative `Location`, bounded and loop-guarded).
struct MasterExchange: Sendable {
    let transport: any MesosTransport
    let authenticator: (any MesosAuthenticator)?
    let contentType: MesosContentType
    let maximumRedirects: Int
    /// The last endpoint URL built: every call goes to the same master and path, and building a URL costs
    /// more than the rest of a call's bookkeeping.
    private let endpoint = EndpointCache()

    /// The answer to a request, and the master that gave it (after redirects).
    struct Answer: Sendable {
        var response: MesosHTTPResponse
        var body: MesosResponseBody
        var location: MasterLocation
    }

    /// POSTs `body` to `path` on `location`, following redirects.
    func post(
        to location: MasterLocation,
        path: String,
        body: [UInt8],
        streamID: String?,
        timeout: Duration?,
        idleTimeout: Duration?
    ) async throws(MesosError) -> Answer {
        var current = location
        var visited: Set<String> = []
        var refreshed = false
        var hops = 0
        while true {
            var headers: MesosHTTPHeaders = [
                "Content-Type": self.contentType.mediaType,
                "Accept": self.contentType.mediaType,
            ]
            if let streamID {
                headers["Mesos-Stream-Id"] = streamID
            }
            if let authenticator {
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
            let url = self.endpoint.url(for: current, path: path)
            let request = MesosHTTPRequest(
                method: "POST", url: url, headers: headers, body: body, timeout: timeout, idleTimeout: idleTimeout)
            let (response, responseBody) = try await self.transport.send(request)

            if response.status == 401, self.authenticator != nil, !refreshed {
                refreshed = true
                _ = try? await responseBody.collect(upTo: 1 << 16)
                continue
            }
            if [301, 302, 303, 307, 308].contains(response.status) {
                let locationHeader = response.headers["Location"]
                _ = try? await responseBody.collect(upTo: 1 << 16)
                guard let locationHeader, let next = MasterLocation(redirectLocation: locationHeader, relativeTo: current) else {
                    throw MesosError.httpStatus(response.status, body: "redirect without a usable Location", location: locationHeader)
                }
                hops += 1
                if visited.isEmpty {
                    visited.insert(location.description)
                }
                guard hops <= self.maximumRedirects, visited.insert(next.description).inserted else {
                    throw MesosError(
                        code: .tooManyRedirects,
                        message: "Redirects did not reach a leader (\(hops) hops, last \(next))",
                        httpStatus: response.status
                    )
                }
                current = next
                continue
            }
            return Answer(response: response, body: responseBody, location: current)
        }
    }
}

/// Remembers the URL of the last (master, path) pair asked for.
final class EndpointCache: Sendable {
    private struct Entry {
        var location: MasterLocation
        var path: String
        var url: URL
    }

    private let last = LockedValue<Entry?>(nil)

    /// `path` on `location`, built once per pair in a row.
    func url(for location: MasterLocation, path: String) -> URL {
        if let entry = self.last.withLock({ $0 }), entry.location == location, entry.path == path {
            return entry.url
        }
        let url = location.baseURL.appendingPathComponent(String(path.drop { $0 == "/" }))
        self.last.withLock { $0 = Entry(location: location, path: path, url: url) }
        return url
    }
}
