@_exported import MesosResources

/// The framework toolkit's application services: the offer book, the suppress/revive controller, the
/// acknowledgement manager and the reconciliation driver, on top of ``MesosScheduler`` and the resource algebra.
public enum MesosFramework {}
