/// Placeholder until the NIO transport lands (issue 16).
enum MesosNIOTransportPlaceholder {}
