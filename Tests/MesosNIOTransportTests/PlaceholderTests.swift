import Testing

@Test func nioTransportPlaceholder() {}
