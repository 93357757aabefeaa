import Foundation
import MesosCore

/// A deliberately minimal HTTP/1.1 client over ``RawConnection``, shaped like a `MesosTransport`, so that the
/// fake master's tests can run the same scenarios in memory and over real sockets without depending on the
/// curl or URLSession adapters. One connection per request; the connection closes with the body.
struct RawHTTPTransport: MesosTransport {
    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        try await MesosError.catching(context: "\(request.method) \(request.url)") { try await self.exchange(request) }
    }

    private func exchange(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        let connection: RawConnection
        do {
            connection = try await RawConnection.connect(port: request.url.port ?? 80)
        } catch {
            throw MesosError(code: .transportFailure, message: "connect: \(error)", cause: error)
        }
        var target = request.url.path.isEmpty ? "/" : request.url.path
        if let query = request.url.query { target += "?\(query)" }
        try await connection.send(
            request.method,
            target,
            headers: request.headers.map { ($0.name, $0.value) },
            body: request.body ?? []
        )
        let (chunks, continuation) = AsyncThrowingStream<ArraySlice<UInt8>, any Error>.makeStream()
        let head: RawHead = try await withCheckedThrowingContinuation { headContinuation in
            let task = Task {
                var reader = ByteReader(connection)
                let head: RawHead
                do {
                    head = try await reader.readHead()
                } catch {
                    headContinuation.resume(
                        throwing: MesosError(code: .transportFailure, message: "no response head: \(error)", cause: error)
                    )
                    continuation.finish()
                    await connection.close()
                    return
                }
                headContinuation.resume(returning: head)
                do {
                    if let length = head["Content-Length"].flatMap({ Int($0) }) {
                        var remaining = length
                        while remaining > 0 {
                            let bytes = try await reader.readAvailable()
                            continuation.yield(bytes[...])
                            remaining -= bytes.count
                        }
                    } else if head["Transfer-Encoding"]?.lowercased() == "chunked" {
                        while let chunk = try await reader.readChunk() {
                            continuation.yield(chunk[...])
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(
                        throwing: MesosError(code: .transportFailure, message: "body: \(error)", cause: error)
                    )
                }
                await connection.close()
            }
            continuation.onTermination = { _ in
                task.cancel()
                Task { await connection.close() }
            }
        }
        let headers = MesosHTTPHeaders(head.headers.map { (name: $0.0, value: $0.1) })
        return (MesosHTTPResponse(status: head.status, headers: headers), MesosResponseBody(chunks))
    }
}
