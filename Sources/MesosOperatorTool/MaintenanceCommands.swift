import ArgumentParser
import Foundation
import MesosCore
import MesosOperator

struct MaintenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Show or set the maintenance schedule, show the machines' status, start or stop maintenance.",
        subcommands: [MaintenanceScheduleCommand.self, MaintenanceStatusCommand.self, MaintenanceStartCommand.self,
                      MaintenanceStopCommand.self],
        defaultSubcommand: MaintenanceScheduleCommand.self
    )
}

/// A machine on the command line: `hostname`, `hostname=ip`, or `=ip`.
struct MachineArgument: ExpressibleByArgument {
    let machine: MachineID

    init?(argument: String) {
        var machine = MachineID()
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if !parts[0].isEmpty { machine.hostname = String(parts[0]) }
        if parts.count == 2, !parts[1].isEmpty { machine.ip = String(parts[1]) }
        guard machine.hasHostname || machine.hasIp else { return nil }
        self.machine = machine
    }
}

struct MaintenanceScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show the maintenance schedule, or replace it with --set FILE (a JSON maintenance.Schedule).",
        discussion: """
            The file holds Mesos's JSON, e.g.
              {"windows":[{"machine_ids":[{"hostname":"agent1","ip":"10.0.0.1"}],
                           "unavailability":{"start":{"nanoseconds":1767225600000000000},
                                             "duration":{"nanoseconds":3600000000000}}}]}
            An empty schedule ({}) clears it.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("set"), help: ArgumentHelp("Replace the schedule with the one in this JSON file ('-' for standard input).", valueName: "file"))
    var file: String?

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            guard let file = self.file else {
                let answer = try await session.client.getMaintenanceSchedule()
                try ToolOutput.emit(answer.schedule, json: self.global.json) { _ in ToolRender.maintenanceSchedule(answer) }
                return
            }
            let schedule = try Self.readSchedule(file)
            try await session.client.updateMaintenanceSchedule(schedule)
            toolPrint(self.global.json ? "{}\n" : "Updated the maintenance schedule (\(schedule.windows.count) window(s)).\n")
        }
    }

    static func readSchedule(_ file: String) throws -> MaintenanceSchedule {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ToolFailure.usage("Cannot read \(file): \(error.localizedDescription)")
        }
        do {
            return try MesosCodec(.json).decode(MaintenanceSchedule.self, from: ArraySlice(data))
        } catch {
            throw ToolFailure.usage("\(file) is not a JSON maintenance schedule: \(error.message)")
        }
    }
}

struct MaintenanceStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the machines that are draining or down for maintenance.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getMaintenanceStatus()
            try ToolOutput.emit(answer.status, json: self.global.json) { _ in ToolRender.maintenanceStatus(answer) }
        }
    }
}

struct MaintenanceStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Take scheduled machines down (START_MAINTENANCE).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The machines: hostname, hostname=ip or =ip.", valueName: "machine"))
    var machines: [MachineArgument]

    func run() async throws {
        try await runTool {
            try await MasterSession(self.global).client.startMaintenance(machines: self.machines.map(\.machine))
            toolPrint(self.global.json ? "{}\n" : "Started maintenance on \(self.machines.count) machine(s).\n")
        }
    }
}

struct MaintenanceStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Bring machines back up after maintenance (STOP_MAINTENANCE).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The machines: hostname, hostname=ip or =ip.", valueName: "machine"))
    var machines: [MachineArgument]

    func run() async throws {
        try await runTool {
            try await MasterSession(self.global).client.stopMaintenance(machines: self.machines.map(\.machine))
            toolPrint(self.global.json ? "{}\n" : "Stopped maintenance on \(self.machines.count) machine(s).\n")
        }
    }
}
