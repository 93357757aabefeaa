import ArgumentParser
import Foundation
import MesosCore

/// How the tool ends when something went wrong: one line on standard error and an exit code that says what
/// kind of failure it was (listed in `mesos --help`).
enum ToolFailure: Error {
    /// The command line is unusable (exit 64, as ArgumentParser's own usage errors).
    case usage(String)
    /// A named thing (task, framework, agent, file) does not exist (exit 2).
    case notFound(String)
    /// A check did not pass, e.g. `mesos health` on an unhealthy master (exit 5), with no error printed.
    case unhealthy

    /// Exit codes, documented in `mesos --help`.
    enum Code {
        static let success: Int32 = 0
        static let refused: Int32 = 1
        static let notFound: Int32 = 2
        static let unreachable: Int32 = 3
        static let denied: Int32 = 4
        static let unhealthy: Int32 = 5
        static let usage: Int32 = 64
        static let interrupted: Int32 = 130
    }

    /// The help text that lists the exit codes.
    static let exitCodeHelp = """
        Exit codes:
          0    success
          1    the master (or agent) refused or failed the request; its text is printed
          2    the task, framework, agent or file named does not exist
          3    no leading master could be reached (connection refused, timeout, no leader elected)
          4    authentication or authorization failed (HTTP 401/403)
          5    mesos health: the master answered but is not healthy
          64   bad command line
          130  interrupted
        """

    /// The exit code and the message for any error a command throws.
    static func outcome(of error: any Error) -> (code: Int32, message: String?) {
        switch error {
        case ToolFailure.usage(let message):
            return (Code.usage, message)
        case ToolFailure.notFound(let message):
            return (Code.notFound, message)
        case ToolFailure.unhealthy:
            return (Code.unhealthy, nil)
        case let error as MesosError:
            return (self.code(of: error), self.oneLine(error.message))
        default:
            return (Code.refused, self.oneLine(String(describing: error)))
        }
    }

    /// The exit code for a library error.
    static func code(of error: MesosError) -> Int32 {
        switch error.code {
        case .notFound: return Code.notFound
        case .unauthenticated, .forbidden, .authenticationFailed: return Code.denied
        case .transportFailure, .timeout, .noLeader, .unavailable, .notLeader, .tooManyRedirects: return Code.unreachable
        case .cancelled: return Code.interrupted
        case .invalidConfiguration, .invalidCall: return Code.usage
        default: return Code.refused
        }
    }

    /// The message on one line: line breaks and runs of spaces collapsed.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline || $0 == "\t" }).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// Runs a command's body and turns its failure into the tool's one-line error and exit code.
func runTool(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let (code, message) = ToolFailure.outcome(of: error)
        if let message {
            FileHandle.standardError.write(Data("mesos: error: \(message)\n".utf8))
        }
        throw ExitCode(code)
    }
}

/// Writes to standard output.
func toolPrint(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
