// A complete framework in 35 lines: launch one command as a task, print its states, tear down.
// Usage: swift run launch-task [http://127.0.0.1:5050] ["echo hello"]
import Foundation
import MesosCore
import MesosCurlTransport
import MesosResources
import MesosScheduler

let master = URL(string: CommandLine.arguments.dropFirst().first ?? "http://127.0.0.1:5050")!
let command = CommandLine.arguments.dropFirst(2).first ?? "echo hello"
var info = FrameworkInfo()
info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
info.name = "launch-task"
let scheduler = MesosScheduler(configuration: .init(
    frameworkInfo: info, master: .fixed(.init(host: master.host!, port: master.port ?? 5050)), transport: .curl()))

try await scheduler.withSubscription { events in
    var launched = false
    for try await event in events {
        switch event {
        case .offers(let offers) where !launched:
            // The first offer that holds cpus:0.1;mem:32 (its role's reserved resources too) gets the task.
            for offer in offers where !launched {
                guard let carving = try? offer.carving(ResourceDemand(cpus: 0.1, mem: 32)) else { continue }
                launched = true
                var task = TaskInfo()
                task.name = "hello"; task.taskID = TaskID("hello-\(UUID())"); task.agentID = offer.agentID
                task.resources = carving.resources
                task.command.value = command
                try await scheduler.accept(offer, operations: [.launch([task])])
            }
        case .update(let status):
            print(status.state, status.message)
            if status.state.isTerminal { try await scheduler.teardown(); return }
        default: break
        }
    }
}
