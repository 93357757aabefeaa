import MesosCore
import Testing

@Suite("Redirect locations")
struct MasterLocationRedirectTests {
    let base = MasterLocation(scheme: "https", host: "m1", port: 5050)

    @Test("scheme-relative, absolute, IPv6 and malformed Location values")
    func forms() {
        #expect(MasterLocation(redirectLocation: "//m2:5051/master/api/v1/scheduler", relativeTo: base)
            == MasterLocation(scheme: "https", host: "m2", port: 5051))
        #expect(MasterLocation(redirectLocation: "http://m3:5052", relativeTo: base)
            == MasterLocation(scheme: "http", host: "m3", port: 5052))
        #expect(MasterLocation(redirectLocation: "//m4", relativeTo: base)?.port == 443)
        #expect(MasterLocation(redirectLocation: "//[::1]:5050/x", relativeTo: base)?.host == "[::1]")
        #expect(MasterLocation(redirectLocation: "m2:5050", relativeTo: base) == nil)
        #expect(MasterLocation(redirectLocation: "ftp://m2:5050", relativeTo: base) == nil)
        #expect(MasterLocation(redirectLocation: "//m2:99999", relativeTo: base) == nil)
    }
}
