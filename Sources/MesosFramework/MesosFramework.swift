@_exported import MesosResources

/// The framework toolkit's application services: the offer book, the suppress/revive controller, the
/// acknowledgement manager and the reconciliation driver, on top of ``MesosScheduler`` and the resource algebra.
///
/// ``FrameworkServices`` composes the four: attach it to a ``MesosScheduler`` (or feed it events and give it any
/// ``SchedulerCallSender``), run its timers with ``FrameworkServices/run()``, and it sends DECLINE, SUPPRESS,
/// REVIVE, ACKNOWLEDGE, RECONCILE and KILL as the Mesos guidance asks. ``OfferBook``,
/// ``SuppressReviveController``, ``AcknowledgementManager`` and ``ReconciliationDriver`` are value types with
/// no clock and no I/O, usable on their own.
public enum MesosFramework {}
