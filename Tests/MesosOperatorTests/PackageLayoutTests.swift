import MesosOperator
import Testing

@Test func operatorModuleLinks() {
    #expect(String(describing: MesosOperator.self) == "MesosOperator")
}
