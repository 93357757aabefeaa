// The README's "A highly available framework in 40 lines", compiled with the tests so it cannot rot (it is not
// run: it needs a master and ZooKeeper; HighlyAvailableFrameworkTests runs the same flow against a fake master).
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosFramework
import MesosFrameworkZooKeeper
import MesosScheduler
import MesosZooKeeper

enum ReadmeHAExample {
    static func main() async throws {
        // Start this program two or three times, on any hosts: one leads, the others wait to take over.
        var info = FrameworkInfo()
        info.user = "nobody"
        info.name = "web"
        info.failoverTimeout = 7 * 24 * 3600          // the tasks outlive a leader for this long
        let transport = MesosCurlTransport(configuration: .init())
        let master = try MasterDetectors.make(url: "http://127.0.0.1:5050", transport: transport)
        let scheduler = MesosSchedulerConfiguration(frameworkInfo: info, master: master, transport: transport)

        let framework = HighlyAvailableFramework(
            configuration: .init(zooKeeper: try ZooKeeperURL("zk://127.0.0.1:2181/web"), sessionTimeout: .seconds(10)),
            scheduler: { scheduler })

        var web = TaskSpec(name: "web", command: .shell("exec python3 -m http.server $PORT0"),
                           resources: "cpus:0.5;mem:128", instances: 3, restart: .always)
        web.ports = 1
        let watcher = Task {
            for await change in framework.changes() {
                print(change)                             // elected (term 1 …) / deposed (…): sessionSuspended
                guard case .elected(_, let runtime) = change else { continue }
                // The specs are stored in ZooKeeper: a successor finds them; submit only the first time.
                if !runtime.specs.contains(where: { $0.name == web.name }) {
                    _ = try? await runtime.submit(web)
                }
                Task { for await event in runtime.events() { print(event.taskID.value, event.state) } }
            }
        }
        defer { watcher.cancel() }
        try await framework.run()                         // until cancelled; deposed → runtime.stop() at once
    }
}
