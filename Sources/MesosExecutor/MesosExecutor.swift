// The executor service (issue 14): the agent's v1 executor API on the project's transports.
@_exported import MesosCore
