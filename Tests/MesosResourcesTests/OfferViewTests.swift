import MesosCore
import MesosResources
import Testing

/// An offer on `agent` with the given resources (allocated to `role` when set) and attributes.
func makeOffer(
    _ id: String,
    agent: String,
    hostname: String? = nil,
    role: String? = "web",
    resources: [Resource],
    attributes: String = "",
    region: String? = nil,
    zone: String? = nil
) -> Offer {
    var offer = Offer()
    offer.id = OfferID(id)
    offer.agentID = AgentID(agent)
    offer.hostname = hostname ?? "\(agent).example"
    offer.resources = resources.map { resource in
        var resource = resource
        if let role { resource.allocationInfo.role = role }
        return resource
    }
    if let role { offer.allocationInfo.role = role }
    offer.attributes = (try? [Attribute](parsing: attributes)) ?? []
    if let region { offer.domain.faultDomain.region.name = region }
    if let zone { offer.domain.faultDomain.zone.name = zone }
    return offer
}

@Suite struct OfferViewTests {
    let offer = makeOffer(
        "o1",
        agent: "a1",
        hostname: "node-1",
        resources: [
            scalar("cpus", 1.5), scalar("cpus", 2, reservations: [reservation("web", dynamic: false)]),
            scalar("mem", 1024), ranges("ports", [31000...31002, 31005...31005]),
        ],
        attributes: "rack:r1;cores:4;slots:[1-2,5-6];tags:{b,a}",
        region: "eu",
        zone: "eu-1a"
    )

    @Test func scalarsRangesAndResourcesByRole() throws {
        #expect(offer.scalar("cpus") == 3.5)
        #expect(offer.scalar("mem") == 1024)
        #expect(offer.scalar("gpus") == nil)
        #expect(offer.ranges("ports") == ResourceRanges([31000...31002, 31005...31005]))
        #expect(offer.resources(named: "cpus").scalar("cpus") == 3.5)
        #expect(offer.resources(named: "cpus", role: "*").scalar("cpus") == 1.5)
        #expect(offer.resources(named: "cpus", role: "web").scalar("cpus") == 2)
        #expect(offer.resources(named: "cpus", role: "db").isEmpty)
        #expect(offer.allocationRole == "web")
    }

    @Test func attributesAndDomain() {
        #expect(offer.attribute("rack") == .text("r1"))
        #expect(offer.attribute("cores") == .scalar(4))
        #expect(offer.attribute("slots") == .ranges(ResourceRanges([1...2, 5...6])))
        #expect(offer.attribute("tags") == .set(ResourceSet(["b", "a"])))
        #expect(offer.attribute("missing") == nil)
        #expect(offer.attributeValues.map(\.name) == ["rack", "cores", "slots", "tags"])
        #expect(offer.region == "eu" && offer.zone == "eu-1a")
        #expect(makeOffer("o2", agent: "a2", resources: []).region == nil)
        #expect(offer.agentID.value == "a1" && offer.hostname == "node-1")
    }

    @Test func taskAndExecutorResources() {
        var task = TaskInfo()
        task.resources = [scalar("cpus", 0.5), scalar("cpus", 0.25), ranges("ports", [8080...8081])]
        #expect(task.scalar("cpus") == 0.75)
        #expect(task.ranges("ports")?.quantity == 2)
        var executor = ExecutorInfo()
        executor.resources = [scalar("mem", 32)]
        #expect(executor.scalar("mem") == 32)
        #expect(executor.resourceView.names == ["mem"])
    }

    @Test func constraintTextFollowsMarathon() {
        #expect(AttributeValue.scalar(4).constraintText == "4")
        #expect(AttributeValue.scalar(1.5).constraintText == "1.5")
        #expect(AttributeValue.scalar(2.0004).constraintText == "2")
        #expect(AttributeValue.ranges(ResourceRanges([5...6, 1...2])).constraintText == "[1-2,5-6]")
        #expect(AttributeValue.set(ResourceSet(["b", "a"])).constraintText == "{a,b}")
        #expect(AttributeValue.text("r1").constraintText == "r1")
    }
}

@Suite struct AttributeParsingTests {
    @Test func parsesEveryType() throws {
        let attributes = try [Attribute](parsing: "rack:r1;zone:a;cores:4;ports:[1-2];tags:{a,b}")
        #expect(attributes.map(\.name) == ["rack", "zone", "cores", "ports", "tags"])
        #expect(
            attributes.map(\.value) == [
                .text("r1"), .text("a"), .scalar(4), .ranges(ResourceRanges([1...2])), .set(ResourceSet(["a", "b"])),
            ])
        #expect(attributes[2].type == .scalar && attributes[0].type == .text)
    }

    @Test func spacesAndEmptyEntries() throws {
        let attributes = try [Attribute](parsing: " rack : r 1 ;; ports:[1-2, 4-5] ;")
        #expect(attributes.map(\.name) == ["rack", "ports"])
        #expect(attributes[0].value == .text("r1"))
        #expect(attributes[1].value == .ranges(ResourceRanges([1...2, 4...5])))
        #expect(try [Attribute](parsing: "").isEmpty)
    }

    @Test func printsBack() throws {
        let text = "rack:r3;cores:4.5;ports:[1-2,4-5];tags:{a,b}"
        let attributes = try [Attribute](parsing: text)
        #expect(attributes.textForm == text)
        #expect(try [Attribute](parsing: attributes.textForm) == attributes)
        #expect(Attribute(name: "rack", value: .text("r3")).textForm == "rack:r3")
    }

    @Test(arguments: [
        ("rack", 4, "':' after the attribute name"),
        (":r1", 0, "an attribute name"),
        ("rack:", 5, "a value"),
        ("a:1;ports:[1-2", 14, "']' closing the ranges"),
        ("ports:[2-1]", 7, "a range with begin ≤ end"),
        ("ports:[1-x]", 9, "a number"),
        ("ports:[1-3,2-4]", 6, "ranges that do not overlap"),
        ("tags:{a,,b}", 8, "a set item"),
        ("tags:{a,a}", 5, "set items that do not repeat"),
        ("rack:r(1)", 6, "a scalar or text value (use [..] for ranges and {..} for sets)"),
        ("ra[ck:1", 2, "an attribute name without brackets, braces, parentheses or commas"),
    ])
    func errorsNameThePosition(text: String, offset: Int, expected: String) {
        #expect(throws: ResourcesParseError.self) { try [Attribute](parsing: text) }
        do {
            _ = try [Attribute](parsing: text)
        } catch {
            #expect(error.offset == offset, "\(text): \(error)")
            #expect(error.expected == expected, "\(text): \(error)")
        }
    }
}
