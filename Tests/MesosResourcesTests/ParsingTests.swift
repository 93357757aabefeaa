import MesosCore
import MesosResources
import Testing

@Suite struct TextSyntaxTests {
    @Test func parsesTheAgentForm() throws {
        let resources = try Resources(parsing: "cpus:1;mem:128;ports:[31000-31005];cpus(role):2")
        #expect(resources.unreserved().scalar("cpus") == 1)
        #expect(resources.reserved("role").scalar("cpus") == 2)
        #expect(resources.reserved("role").combined.first?.reservations.first?.type == .static)
        #expect(resources.scalar("mem") == 128)
        #expect(resources.ranges("ports")?.intervals == [31000...31005])
        #expect(resources.combined.count == 4)
    }

    @Test func toleratesSpacesEmptyEntriesAndCombines() throws {
        let resources = try Resources(parsing: " cpus : 1 ;; cpus:2 ; ports:[ 1 - 5 , 7-9 ]; zones:{ a , b };")
        #expect(resources.scalar("cpus") == 3)
        #expect(resources.ranges("ports")?.intervals == [1...5, 7...9])
        #expect(resources.set("zones") == ResourceSet(["a", "b"]))
        #expect(try Resources(parsing: "").isEmpty)
        #expect(try Resources(parsing: "cpus(*):1") == Resources([scalar("cpus", 1)]))
    }

    @Test func defaultRole() throws {
        let resources = try Resources(parsing: "cpus:1;mem(*):2", defaultRole: "batch")
        #expect(resources.reserved("batch").scalar("cpus") == 1)
        #expect(resources.unreserved().scalar("mem") == 2)
    }

    @Test(arguments: [
        "cpus:1.5;mem:128;ports:[31000-31005,32000-32000];zones:{a,b};cpus(web):2",
        "disk:0.001",
        "cpus(eng/backend):0.25;gpus:2",
        "",
    ])
    func textRoundTrips(text: String) throws {
        let parsed = try Resources(parsing: text)
        #expect(try parsed.textForm() == text)
        #expect(try Resources(parsing: parsed.textForm()) == parsed)
        #expect(try Resources(parsing: parsed.jsonForm()) == parsed)
        #expect(parsed.description == text)
    }

    @Test func unrepresentableResourcesFallBackToJSON() throws {
        let dynamic = Resources([scalar("cpus", 1, reservations: [reservation("web", principal: "p")], allocated: "web")])
        #expect(throws: ResourcesError.self) { try dynamic.textForm() }
        #expect(dynamic.description.hasPrefix("[{"))
        #expect(try Resources(parsing: dynamic.description) == dynamic)
        let volume = Resources([disk(100, volumeID: "v1", containerPath: "data", shared: true)])
        let twice = volume + volume
        #expect(try Resources(parsing: twice.jsonForm()).sharedCount(of: disk(100, volumeID: "v1", shared: true)) == 2)
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        let text: String
        let offset: Int
        let expected: String
        var description: String { self.text }
    }

    @Test(arguments: [
        ErrorCase(text: "cpus", offset: 4, expected: "'(' or ':'"),
        ErrorCase(text: "cpus:1;mem", offset: 10, expected: "'(' or ':'"),
        ErrorCase(text: ":1", offset: 0, expected: "a resource name"),
        ErrorCase(text: "cpus:abc", offset: 5, expected: "a number, '[' or '{'"),
        ErrorCase(text: "cpus:", offset: 5, expected: "a number, '[' or '{'"),
        ErrorCase(text: "cpus(web:1", offset: 8, expected: "')'"),
        ErrorCase(text: "cpus(a//b):1", offset: 5, expected: "a valid role"),
        ErrorCase(text: "cpus():1", offset: 5, expected: "a role"),
        ErrorCase(text: "ports:[1-5", offset: 10, expected: "',' or ']'"),
        ErrorCase(text: "ports:[1 5]", offset: 9, expected: "'-'"),
        ErrorCase(text: "ports:[5-1]", offset: 7, expected: "a range with begin ≤ end"),
        ErrorCase(text: "ports:[1-99999999999999999999]", offset: 9, expected: "a number ≤ 18446744073709551615"),
        ErrorCase(text: "ports:[31000-31001,31001-31002]", offset: 0, expected: "a valid resource"),
        ErrorCase(text: "zones:{a,a}", offset: 0, expected: "a valid resource"),
        ErrorCase(text: "zones:{a,,b}", offset: 9, expected: "a set item"),
        ErrorCase(text: "cpus:1;mem:-5", offset: 7, expected: "a valid resource"),
        ErrorCase(text: "gpus:0.5", offset: 0, expected: "a valid resource"),
        ErrorCase(text: "ports:[1-2]x", offset: 11, expected: "';' or end of input"),
        ErrorCase(text: "[{\"name\":\"cpus\"", offset: 15, expected: "'}'"),
        ErrorCase(text: "[{\"name\":\"cpus}]", offset: 16, expected: "'\"' (end of string)"),
        ErrorCase(text: "[{\"\\", offset: 4, expected: "'\"' (end of string)"),
        ErrorCase(text: "[1]", offset: 1, expected: "'{' (a resource object)"),
        ErrorCase(text: "[{}] x", offset: 5, expected: "end of input"),
        ErrorCase(text: "[{\"name\":\"cpus\"}]", offset: 1, expected: "a valid resource"),
        ErrorCase(
            text: "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}, {\"name\":7}]",
            offset: 55,
            expected: "a Resource object"
        ),
    ])
    func errorsNameThePositionAndTheExpectation(errorCase: ErrorCase) {
        do {
            let parsed = try Resources(parsing: errorCase.text)
            Issue.record("parsed \(errorCase.text) as \(parsed)")
        } catch {
            #expect(error.offset == errorCase.offset)
            #expect(error.expected == errorCase.expected)
            #expect(error.description.hasPrefix("at offset \(errorCase.offset): expected \(errorCase.expected)"))
        }
    }
}

@Suite struct JSONFormTests {
    @Test func parsesMesosJSON() throws {
        let json = """
            [
              {"name":"cpus","type":"SCALAR","scalar":{"value":1.5}},
              {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31010}]}},
              {"name":"mem","type":"SCALAR","scalar":{"value":512},"role":"batch"},
              {"name":"disk","type":"SCALAR","scalar":{"value":64},
               "reservations":[{"type":"DYNAMIC","role":"eng","principal":"p","labels":{"labels":[{"key":"k","value":"v"}]}}]},
              {"name":"zones","type":"SET","set":{"item":["a","b"]}}
            ]
            """
        let resources = try Resources(parsing: json)
        #expect(resources.scalar("cpus") == 1.5)
        #expect(resources.ranges("ports")?.intervals == [31000...31010])
        #expect(resources.reserved("batch").scalar("mem") == 512)
        #expect(resources.reserved("batch").combined.first?.reservations.first?.type == .static)
        let disk = try #require(resources.reserved("eng").combined.first)
        #expect(disk.reservations.first?.principal == "p")
        #expect(disk.reservations.first?.labels.labels.first?.value == "v")
        #expect(resources.set("zones") == ResourceSet(["a", "b"]))
        #expect(try Resources(parsing: resources.jsonForm()) == resources)
        #expect(resources.jsonForm().contains("\"reservations\""))
    }

    @Test func defaultRoleAppliesToRoleLessObjects() throws {
        let resources = try Resources(
            parsing: "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}]",
            defaultRole: "batch"
        )
        #expect(resources.reserved("batch").scalar("cpus") == 1)
        #expect(try Resources(parsing: "[]").isEmpty)
        #expect(throws: ResourcesParseError.self) { try Resources(parsing: "cpus:1", defaultRole: "a//b") }
    }

    @Test func offerFromTheRealMasterCombinesAsObserved() throws {
        // TOOLKIT §0: the offer a MULTI_ROLE framework without RESERVATION_REFINEMENT got from Mesos 1.11.
        let json = """
            [{"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"role":"batch","allocation_info":{"role":"batch"}},
            {"name":"mem","type":"SCALAR","scalar":{"value":512.0},"role":"batch","allocation_info":{"role":"batch"}},
            {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31010}]},"role":"*","allocation_info":{"role":"batch"}},
            {"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"role":"*","allocation_info":{"role":"batch"}},
            {"name":"mem","type":"SCALAR","scalar":{"value":1024.0},"role":"*","allocation_info":{"role":"batch"}},
            {"name":"disk","type":"SCALAR","scalar":{"value":1024.0},"role":"*","allocation_info":{"role":"batch"}}]
            """
        let offer = try Resources(parsing: json)
        #expect(offer.combined.count == 6)
        #expect(offer.allocations.keys.sorted() == ["batch"])
        #expect(offer.scalar("cpus") == 2)
        let task = Resources([
            scalar("cpus", 1, reservations: [reservation("batch", dynamic: false)], allocated: "batch"),
            scalar("cpus", 0.5, allocated: "batch"), scalar("mem", 600, allocated: "batch"),
        ])
        #expect(offer.contains(task))
        let left = try offer.subtracting(task)
        #expect(left.unreserved().scalar("cpus") == 0.5)
        #expect(left.unreserved().scalar("mem") == 424)
        #expect(left.reserved("batch").scalar("cpus") == nil)
        #expect(!offer.contains(task.unallocated()))
        #expect(offer.unallocated().contains(task.unallocated()))
        #expect(offer.allocated(to: "other").allocations.keys.sorted() == ["other"])
    }
}
