import ArgumentParser
import Foundation
import MesosCore

/// `mesos`: operate a Mesos cluster through the master's v1 operator API.
@main
struct MesosTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesos",
        abstract: "Operate an Apache Mesos cluster through the master's v1 operator API.",
        discussion: """
            Every command asks the leading master, found from --master (or $MESOS_MASTER) in the same forms as \
            mesos-execute: host:port, http(s)://host:port[,host:port...] (a follower redirects to the leader), \
            zk://host:port[,...]/path, or file:///path holding one of those. Tables are printed by default; \
            --json prints the master's answer as one JSON document with Mesos's field and enum names.

            Examples:
              mesos version --master 127.0.0.1:5050
              mesos agents --local --local-agents 2
              mesos watch --local --json
              mesos tasks --all --state TASK_FINISHED --master zk://zk1:2181/mesos
              mesos logs my-task -f --master http://m1:5050,m2:5050
              mesos agent drain S0 --max-grace-period 10m --master 127.0.0.1:5050

            \(ToolFailure.exitCodeHelp)
            """,
        subcommands: MesosTool.commands
    )

    /// The subcommands, in the order `mesos --help` lists them: the registration point for new ones (`mesos watch`,
    /// the operator event stream in `Watch*.swift`, adds its command type here).
    static let commands: [any ParsableCommand.Type] = [
        VersionCommand.self,
        HealthCommand.self,
        StateCommand.self,
        AgentsCommand.self,
        FrameworksCommand.self,
        TasksCommand.self,
        RolesCommand.self,
        QuotaCommand.self,
        WeightsCommand.self,
        MaintenanceCommand.self,
        LogsCommand.self,
        TeardownCommand.self,
        AgentCommand.self,
        WatchCommand.self,
    ]
}
