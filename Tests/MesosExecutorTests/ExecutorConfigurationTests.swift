import Foundation
import MesosExecutor
import Testing

@Suite("Executor configuration from the environment")
struct ExecutorConfigurationTests {
    static let complete: [String: String] = [
        "MESOS_AGENT_ENDPOINT": "10.0.0.23:5051",
        "MESOS_FRAMEWORK_ID": "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007",
        "MESOS_EXECUTOR_ID": "swift-exec-1",
        "MESOS_DIRECTORY": "/var/lib/mesos/slaves/S3/frameworks/F/executors/swift-exec-1/runs/C",
        "MESOS_SANDBOX": "/mnt/mesos/sandbox",
        "MESOS_CHECKPOINT": "1",
        "MESOS_RECOVERY_TIMEOUT": "15mins",
        "MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "10secs",
        "MESOS_EXECUTOR_AUTHENTICATION_TOKEN": "eyJhbGciOi.token",
    ]

    @Test("every variable the agent sets is read")
    func complete() throws {
        let configuration = try ExecutorConfiguration.fromEnvironment(Self.complete)
        #expect(configuration.endpoint.absoluteString == "http://10.0.0.23:5051/api/v1/executor")
        #expect(configuration.frameworkID.value == "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007")
        #expect(configuration.executorID.value == "swift-exec-1")
        #expect(configuration.sandbox == "/mnt/mesos/sandbox")
        #expect(configuration.checkpoint)
        #expect(configuration.recoveryTimeout == .seconds(900))
        #expect(configuration.subscriptionBackoffMax == .seconds(2))
        #expect(configuration.shutdownGracePeriod == .seconds(10))
        #expect(configuration.authenticationToken == "eyJhbGciOi.token")
    }

    @Test("MESOS_SLAVE_PID's process name prefixes the path (several agents on one port, as in local mode)")
    func agentProcessPrefix() throws {
        var environment = Self.complete
        environment["MESOS_SLAVE_PID"] = "slave(2)@10.0.0.23:5051"
        let configuration = try ExecutorConfiguration.fromEnvironment(environment)
        #expect(configuration.endpoint.absoluteString == "http://10.0.0.23:5051/slave(2)/api/v1/executor")
        environment["MESOS_SLAVE_PID"] = "sla/ve@10.0.0.23:5051"
        #expect(throws: ExecutorEnvironmentError.self) { try ExecutorConfiguration.fromEnvironment(environment) }
        environment["MESOS_SLAVE_PID"] = "@10.0.0.23:5051"
        #expect(throws: ExecutorEnvironmentError.self) { try ExecutorConfiguration.fromEnvironment(environment) }
    }

    @Test("MESOS_DOMAIN_SOCKET is kept and the path takes the agent's process prefix; a relative path is refused")
    func domainSocket() throws {
        var environment = Self.complete
        environment["MESOS_DOMAIN_SOCKET"] = "/var/run/mesos/agent.sock"
        var configuration = try ExecutorConfiguration.fromEnvironment(environment)
        #expect(configuration.domainSocket == "/var/run/mesos/agent.sock")
        #expect(configuration.endpoint.path == "/slave(1)/api/v1/executor")
        environment["MESOS_SLAVE_PID"] = "slave(3)@10.0.0.23:5051"
        configuration = try ExecutorConfiguration.fromEnvironment(environment)
        #expect(configuration.endpoint.path == "/slave(3)/api/v1/executor")
        #expect(try ExecutorConfiguration.fromEnvironment(Self.complete).domainSocket == nil)
        environment["MESOS_DOMAIN_SOCKET"] = "agent.sock"
        #expect(
            throws: ExecutorEnvironmentError(
                variable: "MESOS_DOMAIN_SOCKET",
                problem: .invalid(value: "agent.sock", expected: "an absolute socket path"))
        ) { try ExecutorConfiguration.fromEnvironment(environment) }
    }

    @Test("without checkpointing the recovery variables are optional; MESOS_DIRECTORY stands in for the sandbox")
    func minimal() throws {
        var environment = Self.complete
        for name in ["MESOS_RECOVERY_TIMEOUT", "MESOS_SUBSCRIPTION_BACKOFF_MAX", "MESOS_SANDBOX",
                     "MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] {
            environment[name] = nil
        }
        environment["MESOS_CHECKPOINT"] = "0"
        environment["LIBPROCESS_SSL_ENABLED"] = "true"
        environment["MESOS_AGENT_ENDPOINT"] = "[::1]:5051"
        let configuration = try ExecutorConfiguration.fromEnvironment(environment)
        #expect(!configuration.checkpoint)
        #expect(configuration.endpoint.absoluteString == "https://[::1]:5051/api/v1/executor")
        #expect(configuration.sandbox == Self.complete["MESOS_DIRECTORY"])
        #expect(configuration.shutdownGracePeriod == .seconds(5))
        #expect(configuration.authenticationToken == nil)
    }

    @Test("a missing variable is an error naming it")
    func missing() {
        for name in ["MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID", "MESOS_RECOVERY_TIMEOUT",
                     "MESOS_SUBSCRIPTION_BACKOFF_MAX"] {
            var environment = Self.complete
            environment[name] = nil
            #expect(throws: ExecutorEnvironmentError(variable: name, problem: .missing)) {
                try ExecutorConfiguration.fromEnvironment(environment)
            }
        }
    }

    @Test("an invalid variable is an error naming it and its value")
    func invalid() {
        let cases: [(String, String)] = [
            ("MESOS_AGENT_ENDPOINT", "10.0.0.23"), ("MESOS_AGENT_ENDPOINT", "http://10.0.0.23:5051"),
            ("MESOS_AGENT_ENDPOINT", "10.0.0.23:99999"), ("MESOS_CHECKPOINT", "true"),
            ("MESOS_RECOVERY_TIMEOUT", "15 minutes"), ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "-5secs"), ("LIBPROCESS_SSL_ENABLED", "maybe"),
        ]
        for (name, value) in cases {
            var environment = Self.complete
            environment[name] = value
            do {
                _ = try ExecutorConfiguration.fromEnvironment(environment)
                Issue.record("\(name)=\(value) was accepted")
            } catch {
                #expect(error.variable == name)
                guard case .invalid(let reported, _) = error.problem else {
                    Issue.record("\(name)=\(value): \(error)")
                    continue
                }
                #expect(reported == value)
                #expect(error.description.contains(name))
            }
        }
    }
}
