// Runs a TaskInfo's command the way Mesos's command executor does (issue 14).
import MesosCore
