import Foundation

/// A small HTTP/1.1 server in Python, started per test on 127.0.0.1:0, whose behaviour is chosen by the path.
///
/// It records connections and requests in a JSON stats file that tests read with ``stats()``.
final class ScriptedServer: @unchecked Sendable {
    let port: Int
    let scheme: String
    private let process: Process
    private let stdin: Pipe
    private let directory: URL
    private let statsURL: URL

    /// Starts the server and waits (without blocking a thread) until it listens; `tls` gives a certificate and
    /// key (PEM) to serve HTTPS.
    static func start(tls: (certificate: String, key: String)? = nil) async throws -> ScriptedServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("urlsession-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("server.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        let portURL = directory.appendingPathComponent("port")
        let process = Process()
        let stdin = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["python3", script.path, directory.appendingPathComponent("stats.json").path, portURL.path]
        if let tls { arguments += [tls.certificate, tls.key] }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        // The server exits when this pipe closes, so it never outlives the test process.
        process.standardInput = stdin
        try process.run()
        for _ in 0..<400 {
            if let text = try? String(contentsOf: portURL, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return ScriptedServer(port: port, tls: tls != nil, process: process, stdin: stdin, directory: directory)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        kill(process.processIdentifier, SIGKILL)
        throw ServerError(message: "the test server did not start")
    }

    private init(port: Int, tls: Bool, process: Process, stdin: Pipe, directory: URL) {
        self.port = port
        self.scheme = tls ? "https" : "http"
        self.process = process
        self.stdin = stdin
        self.directory = directory
        self.statsURL = directory.appendingPathComponent("stats.json")
    }

    deinit {
        stop()
    }

    /// Kills the server and removes its directory. It does not wait for the process to exit:
    /// `Process.waitUntilExit()` spins a run loop, and this runs on cooperative threads (deinit of a test's
    /// value); the process is reaped by Foundation when it ends.
    func stop() {
        if process.isRunning {
            // SIGKILL: processes started by Foundation's Process may have SIGTERM ignored.
            kill(process.processIdentifier, SIGKILL)
        }
        try? stdin.fileHandleForWriting.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The URL of `path` (which may carry a query) on this server.
    func url(_ path: String) -> URL {
        URL(string: "\(scheme)://127.0.0.1:\(port)\(path)")!
    }

    /// What the server has seen so far.
    struct Stats {
        var connections: Int
        var openConnections: Int
        var maxOpenConnections: Int
        /// Method and path of each request, in arrival order.
        var requests: [(method: String, path: String, headers: [String: String], body: String)]
        /// Body bytes the `/big` handler has written so far.
        var bigBytesSent: Int
    }

    func stats() throws -> Stats {
        let data = try Data(contentsOf: statsURL)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let requests = (object["requests"] as? [[String: Any]] ?? []).map {
            (
                method: $0["method"] as? String ?? "",
                path: $0["path"] as? String ?? "",
                headers: $0["headers"] as? [String: String] ?? [:],
                body: $0["body"] as? String ?? ""
            )
        }
        return Stats(
            connections: object["connections"] as? Int ?? 0,
            openConnections: object["open"] as? Int ?? 0,
            maxOpenConnections: object["max_open"] as? Int ?? 0,
            requests: requests,
            bigBytesSent: object["big_sent"] as? Int ?? 0
        )
    }

    /// Polls `condition` on the stats for up to `timeout` seconds, without blocking a thread.
    func waitFor(timeout: Double = 60, _ condition: (Stats) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if let stats = try? self.stats(), condition(stats) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition(try stats())
    }

    struct ServerError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static let script = #"""
import gzip, json, os, signal, socket, ssl, sys, threading, time
from urllib.parse import urlsplit, parse_qs

signal.signal(signal.SIGTERM, signal.SIG_DFL)

def watch_parent():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=watch_parent, daemon=True).start()

stats_path, port_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()
stats = {"connections": 0, "open": 0, "max_open": 0, "requests": [], "big_sent": 0}
released = threading.Event()
barrier = {"waiting": 0}
barrier_changed = threading.Condition()
dirty = [True]

def save_locked():
    tmp = stats_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(stats))
    os.replace(tmp, stats_path)

def save():
    with lock:
        save_locked()

def update(fn):
    with lock:
        fn(stats)
        save_locked()

def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"

def handle(conn):
    f = conn.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                h = f.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            body = f.read(n) if n else b""
            parts = urlsplit(target)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path
            update(lambda s: s["requests"].append({"method": method, "path": target, "headers": headers, "body": body.decode("latin-1")}))
            if method == "GET":
                text = b"Expecting 'POST', received 'GET'"
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
                continue
            if path == "/fixed":
                length = int(q.get("len", "10"))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + b"f" * length)
            elif path == "/echo":
                text = json.dumps({"method": method, "headers": headers, "body": body.decode("latin-1")}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
            elif path == "/chunks":
                count, delay = int(q.get("n", "3")), float(q.get("delay", "0.2"))
                first_delay = float(q.get("first", "0"))
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
                time.sleep(first_delay)
                for i in range(count):
                    if i:
                        time.sleep(delay)
                    conn.sendall(chunk(b"chunk-%d;" % i))
                conn.sendall(b"0\r\n\r\n")
            elif path == "/gated":
                # Head and a first chunk, then nothing until /release (or 20 s), then the rest.
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                if q.get("first", "1") == "1":
                    conn.sendall(chunk(b"first;"))
                ok = released.wait(20)
                conn.sendall(chunk(b"second;" if ok else b"never-released;") + b"0\r\n\r\n")
            elif path == "/release":
                released.set()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            elif path == "/barrier":
                # Answers only once n requests are waiting here at the same time (or after 20 s).
                n = int(q.get("n", "2"))
                with barrier_changed:
                    barrier["waiting"] += 1
                    barrier_changed.notify_all()
                    ok = barrier_changed.wait_for(lambda: barrier["waiting"] >= n, 20)
                text = b"together" if ok else b"alone"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
            elif path == "/big":
                total = int(q.get("mb", "100")) << 20
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                block = bytes(range(256)) * 256
                sent = 0
                while sent < total:
                    conn.sendall(chunk(block))
                    sent += len(block)
                    if sent % (1 << 20) == 0:
                        update(lambda s, v=sent: s.__setitem__("big_sent", v))
                conn.sendall(b"0\r\n\r\n")
            elif path == "/idle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"hello"))
                conn.settimeout(None)
                while f.read(1):
                    pass
                return
            elif path == "/slowhead":
                time.sleep(float(q.get("delay", "3")))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/close-mid":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
                time.sleep(0.2)
                return
            elif path == "/close-mid-chunked":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"partial"))
                time.sleep(0.2)
                return
            elif path == "/redirect":
                text = b"moved"
                conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: //127.0.0.1:%d/fixed?len=3\r\nContent-Length: %d\r\n\r\n" % (port, len(text)) + text)
            elif path == "/redirect-noloc":
                conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\n\r\n")
            elif path == "/status":
                code = int(q.get("code", "503"))
                text = b"status %d" % code
                extra = b"WWW-Authenticate: Basic realm=\"mesos\"\r\n" if code == 401 else b""
                conn.sendall(b"HTTP/1.1 %d Status\r\n" % code + extra + b"Content-Length: %d\r\n\r\n" % len(text) + text)
            elif path == "/gzip":
                plain = b"mesos " * 2000
                seen = headers.get("accept-encoding", "")
                if "gzip" in seen:
                    data = gzip.compress(plain)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nX-Seen-Accept-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (seen.encode(), len(data)) + data)
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Seen-Accept-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (seen.encode(), len(plain)) + plain)
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    except (OSError, ValueError):
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass
        def closed(s):
            s["open"] -= 1
        update(closed)

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
port = server.getsockname()[1]
context = None
if len(sys.argv) > 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
save()
with open(port_path + ".tmp", "w") as f:
    f.write(str(port))
os.replace(port_path + ".tmp", port_path)

def accepted(conn):
    if context is not None:
        try:
            conn = context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            def failed(s):
                s["open"] -= 1
            update(failed)
            return
    handle(conn)

while True:
    conn, _ = server.accept()
    def opened(s):
        s["connections"] += 1
        s["open"] += 1
        s["max_open"] = max(s["max_open"], s["open"])
    update(opened)
    threading.Thread(target=accepted, args=(conn,), daemon=True).start()
"""#
}
