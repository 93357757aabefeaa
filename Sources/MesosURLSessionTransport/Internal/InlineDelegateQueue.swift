import Foundation

/// A delegate queue that runs URLSession's delegate callbacks right away, on the thread that schedules them.
///
/// swift-corelibs-foundation schedules every delegate callback with `delegateQueue.addOperation { … }` from
/// the session's own serial work queue, the queue that drives libcurl. Running the callback there, instead of
/// on another thread, keeps the callbacks in order and, above all, lets `didReceive data` block until the
/// consumer has caught up: while it blocks, libcurl does not read the socket, the TCP window fills and the
/// server stops sending. (`URLSessionTask.suspend()` cannot be used for that on Linux: it removes the transfer
/// from libcurl, which closes the connection, and `resume()` sends the request again.)
///
/// Delegate code running on this queue must never call a URLSession API that synchronises with the session's
/// work queue (`cancel()`, `resume()`, creating tasks, invalidating): those calls are dispatched elsewhere.
/// On Apple platforms the same holds for `NSURLSession`'s delegate queue.
final class InlineDelegateQueue: OperationQueue, @unchecked Sendable {
    override init() {
        super.init()
        self.name = "MesosURLSessionTransport.delegate"
        self.maxConcurrentOperationCount = 1
    }

    override func addOperation(_ block: @escaping @Sendable () -> Void) {
        block()
    }

    override func addOperation(_ operation: Operation) {
        if !operation.isCancelled {
            operation.start()
        }
    }

    override func addOperations(_ operations: [Operation], waitUntilFinished wait: Bool) {
        for operation in operations {
            self.addOperation(operation)
        }
    }
}
