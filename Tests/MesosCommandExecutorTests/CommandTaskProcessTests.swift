import MesosCommandExecutor
import MesosCore
import MesosTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("CommandTask runs real commands", .timeLimit(.minutes(1)))
struct CommandTaskProcessTests {
    @Test func echoFinishes() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let runner = CommandTask(task: Tasks.shell("echo hello"), configuration: configuration(sandbox), onStatus: log.sink)
        let terminal = await runner.run()
        #expect(log.states == [.taskStarting, .taskRunning, .taskFinished])
        #expect(terminal.state == .taskFinished)
        #expect(terminal.message == "Command exited with status 0")
        #expect(terminal.source == .executor)
        #expect(terminal.taskID.value == "task-1")
        #expect(!terminal.hasAgentID && !terminal.hasUuid && !terminal.hasReason && !terminal.hasHealthy)
        #expect(sandbox.read("stdout") == "hello\n")
    }

    @Test func nonZeroExitFails() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let runner = CommandTask(task: Tasks.shell("echo oops >&2; exit 3"), configuration: configuration(sandbox), onStatus: log.sink)
        let terminal = await runner.run()
        #expect(log.states == [.taskStarting, .taskRunning, .taskFailed])
        #expect(terminal.message == "Command exited with status 3")
        #expect(sandbox.read("stderr") == "oops\n")
    }

    @Test func signalIsNamed() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let runner = CommandTask(task: Tasks.shell("kill -USR1 $$"), configuration: configuration(sandbox)) { _ in }
        let terminal = await runner.run()
        #expect(terminal.state == .taskFailed)
        #expect(terminal.message == "Command terminated with signal User defined signal 1")
    }

    @Test func argvIsNotInterpretedByAShell() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        // A bare program name, looked up in the task's PATH; argv[0] comes from the arguments.
        let task = Tasks.argv("printf", ["printf", "%s|%s", "$EXECUTOR_VARIABLE", "a b"])
        let terminal = await CommandTask(task: task, configuration: configuration(sandbox)) { _ in }.run()
        #expect(terminal.state == .taskFinished)
        #expect(sandbox.read("stdout") == "$EXECUTOR_VARIABLE|a b")
    }

    @Test func shellExpands() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let terminal = await CommandTask(
            task: Tasks.shell("printf '%s|%s' \"$EXECUTOR_VARIABLE\" \"$((6 * 7))\""),
            configuration: configuration(sandbox)
        ) { _ in }.run()
        #expect(terminal.state == .taskFinished)
        #expect(sandbox.read("stdout") == "from-executor|42")
    }

    @Test func environmentAndWorkingDirectory() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        var task = Tasks.shell("printf '%s|%s|%s|%s|%s' \"$TASK_VARIABLE\" \"$EXECUTOR_VARIABLE\" \"$MESOS_SANDBOX\" \"$(pwd)\" \"$MESOS_ALLOCATION_ROLE\"")
        var own = Environment.Variable()
        own.name = "TASK_VARIABLE"
        own.value = "from-task"
        var override = Environment.Variable()
        override.name = "EXECUTOR_VARIABLE"
        override.value = "overridden"
        override.type = .value
        task.command.environment.variables = [own, override]
        var cpus = Resource()
        cpus.name = "cpus"
        cpus.allocationInfo.role = "analytics"
        task.resources = [cpus]
        let terminal = await CommandTask(task: task, configuration: configuration(sandbox)) { _ in }.run()
        #expect(terminal.state == .taskFinished)
        #expect(sandbox.read("stdout") == "from-task|overridden|\(sandbox.path)|\(sandbox.path)|analytics")
    }

    @Test func missingProgramFailsToLaunch() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let task = Tasks.argv("/nonexistent/program", ["program"])
        let terminal = await CommandTask(task: task, configuration: configuration(sandbox), onStatus: log.sink).run()
        #expect(log.states == [.taskStarting, .taskFailed])
        #expect(terminal.message == "Failed to launch '/nonexistent/program': No such file or directory")
        #expect(terminal.reason == .commandExecutorFailed)
    }

    @Test func missingSandboxFailsToLaunch() async {
        var config = CommandTask.Configuration(environment: ["PATH": "/usr/bin:/bin"], sandboxDirectory: "/nonexistent/sandbox")
        config.output = .inherit
        let terminal = await CommandTask(task: Tasks.shell("true"), configuration: config) { _ in }.run()
        #expect(terminal.state == .taskFailed)
        #expect(terminal.message == "Failed to launch '/bin/sh': No such file or directory")
    }

    @Test func taskWithoutCommandFails() async throws {
        var task = TaskInfo()
        task.taskID.value = "no-command"
        #expect(throws: CommandTaskError.self) { try CommandTask.validate(task) }
        let log = StatusLog()
        let terminal = await CommandTask(task: task, onStatus: log.sink).run()
        #expect(log.states == [.taskStarting, .taskFailed])
        #expect(terminal.message == "Task 'no-command' has no command to run")
    }

    @Test func unknownUserFails() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        var task = Tasks.shell("true")
        task.command.user = "no-such-user-here"
        let terminal = await CommandTask(task: task, configuration: configuration(sandbox)) { _ in }.run()
        #expect(terminal.state == .taskFailed)
        #expect(terminal.message == "Failed to get user information for 'no-such-user-here': no such user")
    }

    @Test(.enabled(if: geteuid() == 0, "switching users needs root"))
    func runsAsAnotherUser() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        var task = Tasks.shell("id -u")
        task.command.user = "nobody"
        let terminal = await CommandTask(task: task, configuration: configuration(sandbox)) { _ in }.run()
        #expect(terminal.state == .taskFinished)
        #expect(sandbox.read("stdout") == "65534\n")
    }

    @Test func leftoverProcessesOfTheGroupAreKilledWhenTheCommandEnds() async throws {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let terminal = await CommandTask(
            task: Tasks.shell("sleep 1000 & echo $! > child.pid; exit 0"),
            configuration: configuration(sandbox)
        ) { _ in }.run()
        #expect(terminal.state == .taskFinished)
        let pid = try #require(sandbox.read("child.pid").flatMap { pid_t($0.split(separator: "\n").first ?? "") })
        #expect(await processEnds(pid))
    }

    @Test func checkStatusCarriesTheCheckType() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        var task = Tasks.shell("true")
        task.check.type = .tcp
        task.check.tcp.port = 1
        let log = StatusLog()
        _ = await CommandTask(task: task, configuration: configuration(sandbox), onStatus: log.sink).run()
        #expect(log.all.count == 3)
        #expect(log.all.allSatisfy { $0.checkStatus.type == .tcp && $0.checkStatus.hasTcp })
    }

    @Test func terminationTexts() {
        #expect(ProcessTermination(waitStatus: 3 << 8) == .exited(3))
        #expect(ProcessTermination(waitStatus: SIGKILL) == .signaled(SIGKILL, coreDumped: false))
        #expect(ProcessTermination(waitStatus: SIGSEGV | 0x80).commandMessage == "Command terminated with signal Segmentation fault (core dumped)")
        #expect(ProcessTermination.exited(0).commandMessage == "Command exited with status 0")
        #expect(ProcessTermination.signaled(SIGTERM, coreDumped: false).commandMessage == "Command terminated with signal Terminated")
    }

    @Test func refusalOfASecondTaskAndTheKillingCapability() {
        let status = CommandTask.refusal(of: Tasks.shell("true", id: "second"))
        #expect(status.state == .taskFailed && status.taskID.value == "second" && status.source == .executor)
        #expect(status.message == "Attempted to run multiple tasks using a \"command\" executor")
        var framework = FrameworkInfo()
        #expect(!CommandTask.Configuration.wantsKillingState(framework))
        var capability = FrameworkInfo.Capability()
        capability.type = .taskKillingState
        framework.capabilities = [capability]
        #expect(CommandTask.Configuration.wantsKillingState(framework))
    }
}
