import Foundation
import MesosCore

/// Serves a ``FakeMaster`` (or a ``FakeAgent``) as the handler of a `MesosInMemoryTransport`.
enum InMemoryResponder {
    static func respond(master: FakeMaster, to request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        try await Self.respond(to: request) { try await master.respond(to: $0) }
    }

    /// Turns the transport's request into a fake-server request, and the answer back.
    static func respond(
        to request: MesosHTTPRequest,
        with responder: FakeMasterHTTPHandler.Responder
    ) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        let components = request.url.pathAndQuery
        let fakeRequest = FakeMasterRequest(
            method: request.method,
            path: components.path,
            query: components.query,
            headers: request.headers,
            body: request.body ?? []
        )
        let response = try await responder(fakeRequest)
        switch response.action {
        case .closeConnection:
            throw FakeMasterResponse.CloseConnection(reason: "the fake master closed the connection before responding")
        case .neverAnswer:
            while true {
                try await Task.sleep(for: .seconds(3600))
            }
        case .answer:
            break
        }
        var headers = response.headers
        switch response.body {
        case .bytes(let bytes):
            headers["Content-Length"] = String(bytes.count)
            return (MesosHTTPResponse(status: response.status, headers: headers), MesosResponseBody(bytes: bytes))
        case .stream(let contentLength, let producer):
            if let contentLength {
                headers["Content-Length"] = String(contentLength)
            } else {
                headers["Transfer-Encoding"] = "chunked"
            }
            return (MesosHTTPResponse(status: response.status, headers: headers), MesosResponseBody(Self.start(producer)))
        }
    }

    /// Runs the producer in its own task, connected to the returned sequence through a one-slot handoff.
    private static func start(_ producer: @escaping FakeMasterResponse.Producer) -> HandoffBody {
        let handoff = ByteHandoff()
        let task = Task {
            do {
                try await producer(HandoffWriter(handoff: handoff))
                handoff.finish(nil)
            } catch {
                handoff.finish(error)
            }
        }
        handoff.setOnClose { task.cancel() }
        return HandoffBody(lifetime: HandoffLifetime(handoff: handoff))
    }
}

/// Writes into a handoff.
struct HandoffWriter: FakeMasterBodyWriter {
    let handoff: ByteHandoff

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        try await self.handoff.write(bytes)
    }
}

/// Closes the handoff (the "connection") when neither the body nor any of its iterators is left.
final class HandoffLifetime: Sendable {
    let handoff: ByteHandoff

    init(handoff: ByteHandoff) {
        self.handoff = handoff
    }

    deinit {
        self.handoff.close()
    }
}

/// The consumer side of a streamed in-memory body.
struct HandoffBody: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let lifetime: HandoffLifetime

    func makeAsyncIterator() -> Iterator {
        Iterator(lifetime: self.lifetime)
    }

    struct Iterator: AsyncIteratorProtocol {
        let lifetime: HandoffLifetime

        func next() async throws -> ArraySlice<UInt8>? {
            try await self.lifetime.handoff.next()
        }
    }
}

extension URL {
    /// The percent-encoded path (`/` when empty) and query, as they would appear in a request line.
    fileprivate var pathAndQuery: (path: String, query: String?) {
        let components = URLComponents(url: self, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? ""
        return (path.isEmpty ? "/" : path, components?.percentEncodedQuery)
    }
}
