import MesosFramework
import Testing

@Suite struct ModuleTests {
    @Test func reexportsTheResourceAlgebra() throws {
        let resources = try Resources(parsing: "cpus:1;mem:128")
        #expect(resources.scalar("cpus") == 1)
    }
}
