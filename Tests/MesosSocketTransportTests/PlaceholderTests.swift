import Testing

@Test func socketTransportPlaceholder() {}
