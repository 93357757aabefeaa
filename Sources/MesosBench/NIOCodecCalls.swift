import Foundation
import MesosCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The second reference for `calls`: the same ACKNOWLEDGEs through SwiftNIO's HTTP/1.1 codecs alone. Each
/// worker's connection carries a handler that writes the next prebuilt request head and body when an answer ends,
/// all on the event loop: no tasks, no continuations, no library code. What a transport built on NIO's codecs
/// could reach at best. Plain `http` only.
enum NIOCodecCalls {
    /// Sends the plan's calls from one connection per body, all on one event loop.
    static func run(_ plan: ReferenceCalls) async throws -> CallsResult {
        let (host, port, path, calls) = (plan.host, plan.port, plan.path, plan.calls)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let next = Counter()
        var workers: [(channel: any Channel, done: EventLoopFuture<(Int, Int, String?)>)] = []
        do {
            for body in plan.bodies {
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: "\(host):\(port)")
                headers.add(name: "Content-Type", value: plan.contentType.mediaType)
                headers.add(name: "Accept", value: plan.contentType.mediaType)
                headers.add(name: "Mesos-Stream-Id", value: plan.streamID)
                headers.add(name: "Content-Length", value: String(body.count))
                let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
                let done = group.next().makePromise(of: (Int, Int, String?).self)
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                            try channel.pipeline.syncOperations.addHandler(
                                Worker(head: head, body: ByteBuffer(bytes: body), next: next, calls: calls, done: done))
                        }
                    }
                    .connect(host: host, port: port).get()
                workers.append((channel, done.futureResult))
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let clock = ContinuousClock()
        let start = clock.now
        for worker in workers {
            worker.channel.pipeline.fireUserInboundEventTriggered(Worker.Start())
        }
        var total = (0, 0, String?.none)
        var failure: (any Error)?
        for worker in workers {
            do {
                let partial = try await worker.done.get()
                total.0 += partial.0
                total.1 += partial.1
                total.2 = total.2 ?? partial.2
            } catch {
                failure = failure ?? error
            }
        }
        let elapsed = clock.now - start
        for worker in workers {
            try? await worker.channel.close()
        }
        try? await group.shutdownGracefully()
        if let failure { throw failure }
        return CallsResult(calls: calls, accepted: total.0, errors: total.1, seconds: Measure.seconds(elapsed), firstError: total.2)
    }

    /// Writes a request, waits for its answer's end, writes the next, until the shared counter reaches the total.
    /// Lives on its channel's event loop.
    final class Worker: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        /// The event that starts a worker once every connection is up.
        struct Start {}

        let head: HTTPRequestHead
        let body: ByteBuffer
        let next: Counter
        let calls: Int
        let done: EventLoopPromise<(Int, Int, String?)>
        var status = 0
        var accepted = 0
        var errors = 0
        var firstError: String?
        var finished = false

        init(head: HTTPRequestHead, body: ByteBuffer, next: Counter, calls: Int, done: EventLoopPromise<(Int, Int, String?)>) {
            self.head = head
            self.body = body
            self.next = next
            self.calls = calls
            self.done = done
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard event is Start else { return context.fireUserInboundEventTriggered(event) }
            self.sendOrFinish(context: context)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.status = Int(head.status.code)
            case .body:
                break
            case .end:
                if self.status == 202 {
                    self.accepted += 1
                } else {
                    self.errors += 1
                    self.firstError = self.firstError ?? "status \(self.status)"
                }
                self.sendOrFinish(context: context)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.finish(.failure(error))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.finish(.failure(BenchError("the master closed the connection")))
        }

        /// Completes the worker's promise once.
        private func finish(_ result: Result<(Int, Int, String?), any Error>) {
            guard !self.finished else { return }
            self.finished = true
            self.done.completeWith(result)
        }

        private func sendOrFinish(context: ChannelHandlerContext) {
            guard self.next.value.add(1, ordering: .relaxed).oldValue < self.calls else {
                self.finish(.success((self.accepted, self.errors, self.firstError)))
                return
            }
            context.write(self.wrapOutboundOut(.head(self.head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(self.body))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
