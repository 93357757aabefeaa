import MesosCore
import MesosCurlTransport
import MesosInMemoryTransport
import MesosNIOTransport
import MesosSocketTransport
import MesosURLSessionTransport
import Testing

/// The transports the conformance suite runs against.
enum TransportKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case inMemory
    case curl
    case urlSession
    case socket
    case nio

    var description: String { self.rawValue }

    /// Whether the transport talks to a real socket (so it needs a `FakeMasterServer`).
    var isNetworked: Bool { self != .inMemory }

    /// The kinds that use sockets, for tests about connections (keep-alive, refused ports).
    static var networked: [TransportKind] { allCases.filter(\.isNetworked) }
}

/// The one place that names the adapters.
///
/// - Parameters:
///   - kind: The transport to build, each with its default configuration.
///   - handler: The fake master's in-memory handler, used by `.inMemory` (the others reach it over HTTP).
/// - Returns: A fresh transport.
func makeTransport(_ kind: TransportKind, inMemory handler: @escaping MesosInMemoryTransport.Handler) -> any MesosTransport {
    switch kind {
    case .inMemory:
        return MesosInMemoryTransport(handler: handler)
    case .curl:
        return MesosCurlTransport(configuration: .init())
    case .urlSession:
        return MesosURLSessionTransport(configuration: .init())
    case .socket:
        return MesosSocketTransport(configuration: .init())
    case .nio:
        return MesosNIOTransport(configuration: .init())
    }
}

/// The conformance suite. Its tests run one at a time: they measure timing, connections and memory of one
/// transport, which parallel tests (and Linux URLSession's busy polling) would distort.
@Suite(.serialized) struct TransportConformance {}
