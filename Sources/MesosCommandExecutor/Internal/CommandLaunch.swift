import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a `CommandInfo` into a ``LaunchPlan`` the way Mesos's command executor runs commands.
enum CommandLaunch {
    /// The plan for `command`.
    ///
    /// - `shell` (the default) runs `/bin/sh -c value`; otherwise `value` is executed with `arguments` as the
    ///   whole argv (`[value]` when `arguments` is empty); a bare `value` is looked up in the child's `PATH`.
    /// - The environment is `base`, then the command's variables (VALUE ones, and SECRET ones the agent
    ///   resolved to a value; unresolved secret references are left out), then `extra`.
    /// - `user`: see ``userWrapper(for:)``.
    static func plan(
        for command: CommandInfo,
        base: [String: String],
        extra: [String: String],
        workingDirectory: String?,
        output: LaunchPlan.Output
    ) throws(CommandTaskError) -> LaunchPlan {
        guard command.hasValue, !command.value.isEmpty else {
            throw CommandTaskError(.missingCommand, "The command has no value")
        }
        var environment = base
        for variable in command.environment.variables where variable.hasName {
            switch variable.type {
            case .secret:
                if variable.secret.hasValue {
                    environment[variable.name] = String(decoding: variable.secret.value.data, as: UTF8.self)
                }
            case .value, .unknown:
                environment[variable.name] = variable.value
            }
        }
        for (name, value) in extra {
            environment[name] = value
        }
        var executable: String
        var arguments: [String]
        if command.shell {
            executable = "/bin/sh"
            arguments = ["sh", "-c", command.value]
        } else {
            executable = command.value
            arguments = command.arguments.isEmpty ? [command.value] : command.arguments
        }
        if command.hasUser, let wrapper = try Self.userWrapper(for: command.user) {
            // setpriv looks the program up itself, in the environment it is given (the child's).
            arguments = wrapper + [ChildProcess.resolve(executable, path: environment["PATH"])] + arguments.dropFirst()
            executable = wrapper[0]
        }
        return LaunchPlan(
            executable: executable,
            arguments: arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            output: output
        )
    }

    /// How to run a command as `user`.
    ///
    /// - The executor's own user: nothing to do (`nil`).
    /// - Another user, executor running as root: through `setpriv` (util-linux) with the user's uid, gid and
    ///   supplementary groups, as Mesos's launch helper switches users (`posix_spawn` cannot).
    /// - Another user otherwise: an error, as in Mesos when the agent cannot switch users.
    static func userWrapper(for user: String) throws(CommandTaskError) -> [String]? {
        guard let account = Self.account(named: user) else {
            throw CommandTaskError(.userSwitch, "Failed to get user information for '\(user)': no such user")
        }
        if account.uid == geteuid() {
            return nil
        }
        guard geteuid() == 0 else {
            throw CommandTaskError(
                .userSwitch,
                "Cannot run the command as user '\(user)': the executor does not run as root"
            )
        }
        guard let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: { (path: String) in access(path, X_OK) == 0 }) else {
            throw CommandTaskError(.userSwitch, "Cannot run the command as user '\(user)': setpriv is not installed")
        }
        return [setpriv, "--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups", "--"]
    }

    private static func account(named user: String) -> (uid: uid_t, gid: gid_t)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let status = getpwnam_r(user, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return (entry.pw_uid, entry.pw_gid)
    }
}
