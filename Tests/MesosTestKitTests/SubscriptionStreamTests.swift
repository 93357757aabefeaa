import Foundation
import MesosCore
import MesosTestKit
import Testing

/// SUBSCRIBE streams: framing, heartbeats, stream ids, failover, pushed events and closing, in both modes.
@Suite struct SubscriptionStreamTests {
    @Test(arguments: Mode.allCases, [MesosContentType.json, .protobuf])
    func subscribeStreamsSubscribedThenHeartbeats(mode: Mode, encoding: MesosContentType) async throws {
        try await Harness.with(mode) { harness in
            let codec = MesosCodec(encoding)
            let (head, body) = try await harness.transport.send(
                try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo()), codec: codec)
            )
            #expect(head.status == 200)
            #expect(head.headers["Content-Type"] == encoding.mediaType)
            #expect(head.headers["Transfer-Encoding"] == "chunked")
            #expect(head.headers["Content-Length"] == nil)
            let streamID = try #require(head.headers["Mesos-Stream-Id"])
            #expect(streamID.count == 36)
            #expect(UUID(uuidString: streamID) != nil)
            #expect(streamID == streamID.lowercased())

            var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
            guard case .subscribed(let subscribed)? = try await events.next() else {
                Issue.record("expected SUBSCRIBED first")
                return
            }
            let configuration = await harness.master.configuration
            #expect(subscribed.frameworkID.value == "\(configuration.masterID)-0000")
            #expect(subscribed.heartbeatIntervalSeconds == 0.05)
            #expect(subscribed.masterInfo.id == configuration.masterID)
            #expect(subscribed.masterInfo.port == UInt32(configuration.port))
            #expect(subscribed.masterInfo.version == "1.11.0")
            #expect(try await events.next() == .heartbeat)
            let start = ContinuousClock.now
            for _ in 0..<3 {
                #expect(try await events.next() == .heartbeat)
            }
            // Three periodic heartbeats take at least two full intervals after the first of them.
            #expect(ContinuousClock.now - start >= .milliseconds(90))
            #expect(await harness.master.streamID(of: subscribed.frameworkID) == streamID)
            #expect(await harness.master.subscribedFrameworkIDs == [subscribed.frameworkID])
        }
    }

    @Test(arguments: Mode.allCases)
    func resubscribingFailsOverTheOldStream(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            var first = try await harness.subscribe()
            var second = try await harness.subscribe(id: first.frameworkID)
            #expect(second.frameworkID == first.frameworkID)
            #expect(second.streamID != first.streamID)

            var last: SchedulerEvent?
            while let event = try await first.events.next() {
                last = event
            }
            #expect(last == .error(message: "Framework failed over"))

            let stale = try await harness.call(.revive(frameworkID: first.frameworkID), streamID: first.streamID)
            #expect(stale.status == 400)
            let current = try await harness.call(.revive(frameworkID: first.frameworkID), streamID: second.streamID)
            #expect(current.status == 202)
            let framework = try #require(await harness.master.framework(first.frameworkID))
            #expect(framework.subscriptionCount == 2)
            #expect(framework.isSubscribed)
            #expect(framework.streamID == second.streamID)
            #expect(try await second.events.next() == .heartbeat)
            #expect(await harness.master.frameworks.count == 1)
        }
    }

    @Test(arguments: Mode.allCases)
    func pushedEventsArriveInOrder(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            var session = try await harness.subscribe()
            let offers = try await harness.master.sendOffers(3, to: session.frameworkID, cpus: 2)
            #expect(offers.count == 3)
            #expect(Set(offers.map(\.id.value)).count == 3)
            for index in 0..<50 {
                var status = TaskStatus()
                status.taskID.value = "task-\(index)"
                status.state = .taskRunning
                try await harness.master.send(.update(status), to: session.frameworkID)
            }
            #expect(try await session.nextNonHeartbeat() == .offers(offers))
            for index in 0..<50 {
                guard case .update(let status)? = try await session.nextNonHeartbeat() else {
                    Issue.record("expected UPDATE \(index)")
                    return
                }
                #expect(status.taskID.value == "task-\(index)")
            }
            let first = try #require(offers.first)
            #expect(first.frameworkID == session.frameworkID)
            #expect(first.resources.map(\.name) == ["cpus", "mem", "disk", "ports"])
            #expect(first.resources[0].scalar.value == 2)
        }
    }

    @Test(arguments: Mode.allCases)
    func teardownEndsTheStreamAndRemovesTheFramework(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            var session = try await harness.subscribe()
            let answer = try await harness.call(.teardown(frameworkID: session.frameworkID), streamID: session.streamID)
            #expect(answer.status == 202)
            while try await session.events.next() != nil {}
            #expect(await harness.master.framework(session.frameworkID)?.isRemoved == true)

            let gone = try await harness.call(.revive(frameworkID: session.frameworkID), streamID: session.streamID)
            #expect(gone.status == 400)
            #expect(gone.text == "Framework cannot be found")

            let (head, body) = try await harness.transport.send(
                try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo(id: session.frameworkID)))
            )
            #expect(head.status == 200)
            var events = body.schedulerEvents(codec: Harness.json).makeAsyncIterator()
            #expect(try await events.next() == .error(message: "Framework has been removed"))
            #expect(try await events.next() == nil)
        }
    }

    @Test(arguments: Mode.allCases)
    func droppingTheStreamUnsubscribes(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let (frameworkID, streamID) = try await { () async throws -> (FrameworkID, String) in
                let session = try await harness.subscribe()
                return (session.frameworkID, session.streamID)
            }()
            let master = harness.master
            try await master.waitUntil { $0.framework(frameworkID)?.isSubscribed == false }
            #expect(master.responseStreams.last?.state == .closedByClient)
            #expect(master.responseStreams.last?.streamID == streamID)
            if let server = harness.server {
                try await server.waitForOpenConnections(atMost: 0)
            }
            let answer = try await harness.call(.revive(frameworkID: frameworkID), streamID: streamID)
            #expect(answer.status == 403)
            await #expect(throws: MesosError(code: .notSubscribed)) {
                try await master.send(.heartbeat, to: frameworkID)
            }
        }
    }

    @Test(arguments: Mode.allCases)
    func masterCanCutTheStream(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            var session = try await harness.subscribe()
            try await harness.master.closeSubscription(of: session.frameworkID, abruptly: true)
            let error = await #expect(throws: MesosError.self) {
                while try await session.events.next() != nil {}
            }
            #expect(error?.code == .transportFailure)
            try await harness.master.waitUntil { $0.responseStreams.last?.state == .cut }
        }
    }
}
