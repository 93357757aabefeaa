import Foundation
import MesosTestKit

/// A small HTTP/1.1 server on 127.0.0.1 (Python 3's `http.server`, one thread per connection) whose paths
/// script the behaviours the transport must handle. Used until the shared fake master exists.
///
/// The process exits when stopped, when this object is released, or when the test process dies (it watches its
/// standard input).
final class ScriptedHTTPServer: @unchecked Sendable {
    let port: Int
    let scheme: String
    private let process: Process
    private let input: Pipe

    /// Starts the server and waits until it listens. The wait (Python's start-up, a blocking read of its first
    /// line) runs on a thread of its own, so that it never holds one of the cooperative pool's few threads.
    ///
    /// - Parameters:
    ///   - tls: A PEM certificate and key to serve https with, or `nil` for plain http.
    ///   - requireClientCertificate: Whether https clients must present a certificate signed by `tls.certificate`.
    static func start(
        tls: (certificate: String, key: String)? = nil,
        requireClientCertificate: Bool = false
    ) async throws -> ScriptedHTTPServer {
        let paths = tls.map { [$0.certificate, $0.key] }
        return try await onDedicatedThread(name: "ScriptedHTTPServer.start") {
            try ScriptedHTTPServer(
                tls: paths.map { (certificate: $0[0], key: $0[1]) },
                requireClientCertificate: requireClientCertificate
            )
        }
    }

    /// Starts the server, blocking the calling thread until it listens: call it through ``start(tls:requireClientCertificate:)``.
    ///
    /// - Parameters:
    ///   - tls: A PEM certificate and key to serve https with, or `nil` for plain http.
    ///   - requireClientCertificate: Whether https clients must present a certificate signed by `tls.certificate`.
    private init(tls: (certificate: String, key: String)?, requireClientCertificate: Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["python3", "-u", "-c", Self.source]
        if let tls {
            arguments += [tls.certificate, tls.key]
            if requireClientCertificate {
                arguments.append("require-client-certificate")
            }
        }
        process.arguments = arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        self.process = process
        self.input = input
        self.scheme = tls == nil ? "http" : "https"

        var line: [UInt8] = []
        let reader = output.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let data = reader.availableData
            if data.isEmpty {
                kill(process.processIdentifier, SIGKILL)
                throw ServerError(message: "the test server did not start: \(String(decoding: line, as: UTF8.self))")
            }
            line += data
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            throw ServerError(message: "the test server printed \(String(decoding: line, as: UTF8.self))")
        }
        self.port = port
    }

    deinit {
        self.stop()
    }

    /// The URL of a path on this server.
    func url(_ pathAndQuery: String) -> URL {
        URL(string: "\(self.scheme)://127.0.0.1:\(self.port)\(pathAndQuery)")!
    }

    /// Stops the server. SIGKILL, because a child of a test process may inherit a mask that blocks SIGTERM, and
    /// without waiting, because `Process.waitUntilExit()` spins a run loop that can stall a cooperative thread.
    func stop() {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
    }

    struct ServerError: Error, CustomStringConvertible {
        let message: String
        var description: String { self.message }
    }

    static let source = #"""
import gzip, json, os, signal, socket, ssl, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

lock = threading.Lock()
stats = {"connections": 0, "eofs": 0, "waiting": 0}
released = threading.Event()
barrier = {"waiting": 0}
barrier_changed = threading.Condition()

# The test process's signal mask is inherited; let SIGTERM and SIGINT work again.
signal.pthread_sigmask(signal.SIG_SETMASK, [])

def watch_parent():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=watch_parent, daemon=True).start()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def plain(self, status, data, headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def wait_for_eof(self):
        with lock:
            stats["waiting"] += 1
        # Only the client's close counts as an EOF: after 30 s the server gives up without counting one, so a test
        # that sees the EOF knows the client closed first.
        self.connection.settimeout(30)
        try:
            data = self.connection.recv(1)
        except socket.timeout:
            data = None
        except OSError:
            data = b""
        if data == b"":
            with lock:
                stats["eofs"] += 1
        self.close_connection = True

    def route(self):
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = url.path
        try:
            if path == "/hello":
                self.plain(200, b"hello", [("X-Many", "1"), ("X-Many", "2")])
            elif path == "/accepted":
                self.plain(202, b"")
            elif path == "/stats":
                with lock:
                    data = json.dumps(stats).encode()
                self.plain(200, data)
            elif path == "/echo":
                data = json.dumps({
                    "method": self.command,
                    "headers": [[name, value] for name, value in self.headers.items()],
                    "body": list(body),
                }).encode()
                self.plain(200, data, [("Content-Type", "application/json")])
            elif path == "/chunks":
                self.start_chunked()
                for index in range(int(query.get("n", "10"))):
                    self.chunk(b"chunk-%d;" % index)
                self.end_chunked()
            elif path == "/gated":
                self.start_chunked()
                self.chunk(b"first")
                ok = released.wait(float(query.get("wait", "10")))
                self.chunk(b"released" if ok else b"timed-out")
                self.end_chunked()
            elif path == "/release":
                released.set()
                self.plain(200, b"ok")
            elif path == "/big":
                size = int(query["bytes"])
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                block = b"x" * 65536
                sent = 0
                while sent < size:
                    piece = block[: min(len(block), size - sent)]
                    self.wfile.write(piece)
                    sent += len(piece)
            elif path == "/sleep":
                time.sleep(float(query["s"]))
                self.plain(200, b"late")
            elif path == "/barrier":
                # Answers "together" once n requests wait here at the same time, else "alone" after 60 s.
                n = int(query.get("n", "2"))
                with barrier_changed:
                    barrier["waiting"] += 1
                    barrier_changed.notify_all()
                    ok = barrier_changed.wait_for(lambda: barrier["waiting"] >= n, 60)
                self.plain(200, b"together" if ok else b"alone")
            elif path == "/idle":
                self.start_chunked()
                self.chunk(b"a")
                time.sleep(float(query["s"]))
                self.chunk(b"b")
                self.end_chunked()
            elif path == "/cut":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"y" * 100)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif path == "/cutchunked":
                self.start_chunked()
                self.chunk(b"part")
                self.wfile.write(b"10\r\nabc")
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif path == "/hang":
                self.start_chunked()
                self.chunk(b"tick")
                self.wait_for_eof()
            elif path == "/slowhead":
                self.wait_for_eof()
            elif path == "/quiet":
                self.start_chunked()
                self.chunk(b"hi")
                time.sleep(float(query.get("s", "10")))
                self.end_chunked()
            elif path == "/redirect":
                self.plain(307, b"", [("Location", "/hello")])
            elif path == "/gzip":
                self.plain(200, gzip.compress(b"hello gzip"), [("Content-Encoding", "gzip")])
            elif path == "/early":
                self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
                self.plain(200, b"final", [("X-Final", "yes")])
            else:
                self.plain(404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

# The default listen backlog (5) drops connection attempts when many calls start at once on a busy machine;
# the client then retries only after a 1 s SYN timeout, which looks like calls running one after another.
ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) >= 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    if len(sys.argv) >= 4 and sys.argv[3] == "require-client-certificate":
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(sys.argv[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#
}
