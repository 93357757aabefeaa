internal import CZooKeeper

/// The C callbacks handed to the ZooKeeper client. They run on the client's own completion thread, copy what
/// they are given (the C buffers die when they return) and yield it to the session's ``ZooKeeperEventSink``,
/// found through the context or completion-data pointer.
enum ZooKeeperCallbacks {
    /// The session watcher, passed to `zookeeper_init`; with `watch = 1` it also receives the node watches.
    static let watcher: watcher_fn = { _, type, state, path, context in
        guard let sink = ZooKeeperEventSink.from(UnsafeRawPointer(context)) else { return }
        if type == ZOO_SESSION_EVENT {
            sink.continuation.yield(.session(state: state))
        } else {
            sink.continuation.yield(.watch(type: type, path: path.map { String(cString: $0) } ?? ""))
        }
    }

    /// The completion of `zoo_aget_children`.
    static let children: strings_completion_t = { rc, strings, data in
        guard let sink = ZooKeeperEventSink.from(data) else { return }
        var names: [String] = []
        if rc == ZOK.rawValue, let vector = strings?.pointee, vector.count > 0, let items = vector.data {
            names.reserveCapacity(Int(vector.count))
            for index in 0..<Int(vector.count) {
                if let item = items[index] {
                    names.append(String(cString: item))
                }
            }
        }
        sink.continuation.yield(.children(rc: rc, names: names))
    }

    /// The completion of `zoo_aget`.
    static let data: data_completion_t = { rc, value, length, _, data in
        guard let sink = ZooKeeperEventSink.from(data) else { return }
        var bytes: [UInt8] = []
        if rc == ZOK.rawValue, let value, length > 0 {
            bytes = Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
        }
        sink.continuation.yield(.data(rc: rc, bytes: bytes))
    }

    /// The completion of `zoo_aexists`.
    static let exists: stat_completion_t = { rc, _, data in
        ZooKeeperEventSink.from(data)?.continuation.yield(.exists(rc: rc))
    }

    /// The completion of `zoo_add_auth`.
    static let authenticated: void_completion_t = { rc, data in
        ZooKeeperEventSink.from(data)?.continuation.yield(.authenticated(rc: rc))
    }
}
