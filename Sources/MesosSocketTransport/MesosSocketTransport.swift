/// Placeholder until the socket transport lands (issue 14, executor footprint).
enum MesosSocketTransportPlaceholder {}
