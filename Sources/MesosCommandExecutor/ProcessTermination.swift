#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a process ended, as `wait(2)` tells it.
public enum ProcessTermination: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit` (or returned from `main`) with this status.
    case exited(Int32)
    /// A signal ended it; `coreDumped` when it left a core file.
    case signaled(Int32, coreDumped: Bool)

    /// Decodes a raw `wait(2)` status.
    ///
    /// - Parameter waitStatus: The status `waitpid` stored.
    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        if signal == 0 {
            self = .exited((waitStatus >> 8) & 0xff)
        } else {
            self = .signaled(signal, coreDumped: waitStatus & 0x80 != 0)
        }
    }

    /// Whether the process exited with status 0.
    public var succeeded: Bool {
        self == .exited(0)
    }

    /// The way Mesos words it after "Command ": `exited with status N`, or
    /// `terminated with signal <strsignal name>` (with ` (core dumped)` when there is a core).
    public var description: String {
        switch self {
        case .exited(let status):
            return "exited with status \(status)"
        case .signaled(let signal, let coreDumped):
            return "terminated with signal \(Self.signalName(signal))" + (coreDumped ? " (core dumped)" : "")
        }
    }

    /// The message Mesos's command executor puts on the task's terminal update:
    /// `Command exited with status N` or `Command terminated with signal <name>`.
    public var commandMessage: String {
        "Command " + self.description
    }

    /// The C library's name of a signal (`strsignal`: "Terminated", "Killed", …).
    public static func signalName(_ signal: Int32) -> String {
        guard let text = strsignal(signal) else { return "Unknown signal \(signal)" }
        return String(cString: text)
    }
}
