import MesosCore
import MesosResources
import Testing

func site(_ host: String, _ attributes: String = "", region: String? = nil, zone: String? = nil) -> AgentSite {
    AgentSite(
        agentID: "id-\(host)",
        hostname: host,
        region: region,
        zone: zone,
        attributes: (try? [Attribute](parsing: attributes)) ?? []
    )
}

@Suite struct ConstraintParsingTests {
    @Test(arguments: [
        "hostname:UNIQUE", "rack:CLUSTER:r1", "rack:CLUSTER", "rack:GROUP_BY", "rack:GROUP_BY:3",
        "hostname:MAX_PER:2", "zone:LIKE:us-east-1[ab]", "zone:UNLIKE:a.*", "@region:IS:eu", "@zone:UNIQUE",
    ])
    func roundTrips(text: String) throws {
        let constraint = try PlacementConstraint(parsing: text)
        #expect(constraint.description == text)
        #expect(try PlacementConstraint(parsing: constraint.description) == constraint)
    }

    @Test func fieldsAndOperators() throws {
        #expect(try PlacementConstraint(parsing: "@hostname:unique") == PlacementConstraint(.hostname, .unique))
        #expect(try PlacementConstraint(parsing: "rack:GROUP_BY").operator == .groupBy(0))
        #expect(try PlacementConstraint(parsing: "@zone:IS:a").field == .zone)
        #expect(try PlacementConstraint(parsing: "url:LIKE:https?://x:80/.*").operator == .like("https?://x:80/.*"))
    }

    @Test(arguments: [
        ("", ConstraintError.Code.missingField, 0),
        ("rack", .missingOperator, 0),
        ("rack:", .missingOperator, 5),
        ("rack:SOMETIMES", .unknownOperator, 5),
        ("rack:LIKE", .missingValue, 5),
        ("rack:LIKE:", .missingValue, 10),
        ("rack:IS:", .missingValue, 8),
        ("rack:MAX_PER", .missingValue, 5),
        ("rack:MAX_PER:0", .invalidValue, 13),
        ("rack:MAX_PER:two", .invalidValue, 13),
        ("rack:GROUP_BY:-1", .invalidValue, 14),
        ("rack:UNIQUE:x", .unexpectedValue, 12),
        ("rack:LIKE:[a-", .invalidValue, 10),
        ("@rack:UNIQUE", .unknownField, 0),
    ])
    func errorsNameTheProblem(text: String, code: ConstraintError.Code, offset: Int) {
        do {
            let constraint = try PlacementConstraint(parsing: text)
            Issue.record("parsed '\(text)' as \(constraint)")
        } catch {
            #expect(error.code == code, "\(text): \(error)")
            #expect(error.offset == offset, "\(text): \(error)")
        }
    }

    @Test func jsonArrayForm() throws {
        let list = try PlacementConstraint.parseList(
            #"[["hostname","UNIQUE"], ["rack", "GROUP_BY", "3"], ["a","LIKE","x\\d+"]]"#)
        #expect(
            list == [
                try PlacementConstraint(.hostname, .unique), try PlacementConstraint(.attribute("rack"), .groupBy(3)),
                try PlacementConstraint(.attribute("a"), .like(#"x\d+"#)),
            ])
        #expect(try PlacementConstraint.parseList("[]").isEmpty)
        #expect(
            try PlacementConstraint.parseList(#"[["rack","MAX_PER",2]]"#) == [
                try PlacementConstraint(.attribute("rack"), .maxPer(2))
            ])
        #expect(try PlacementConstraint.parseList("hostname:UNIQUE\n\nrack:GROUP_BY").count == 2)
    }

    @Test(arguments: [
        (#"[["hostname","UNIQUE"]"#, ConstraintError.Code.invalidJSON, 22),
        (#"[["hostname" "UNIQUE"]]"#, .invalidJSON, 13),
        (#"[["hostname","UNIQUE"], ["rack","NOPE"]]"#, .unknownOperator, 24),
        (#"[["a","IS","x]]"#, .invalidJSON, 15),
        ("hostname:UNIQUE\nrack:NOPE", .unknownOperator, 21),
    ])
    func listErrors(text: String, code: ConstraintError.Code, offset: Int) {
        do {
            _ = try PlacementConstraint.parseList(text)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.code == code, "\(text): \(error)")
            #expect(error.offset == offset, "\(text): \(error)")
        }
    }
}

@Suite struct ConstraintSemanticsTests {
    let r1a = site("a", "rack:r1;cores:4;tags:{y,x}", region: "eu", zone: "eu-1")
    let r1b = site("b", "rack:r1;cores:8", region: "eu", zone: "eu-2")
    let r2c = site("c", "rack:r2;cores:4.5", region: "us", zone: "us-1")
    let bare = site("d")

    func check(_ text: String, _ site: AgentSite, placed: [AgentSite] = [], instances: Int = 10) throws -> Bool {
        try PlacementConstraint(parsing: text).isSatisfied(by: site, placed: placed, instances: instances)
    }

    @Test func unique() throws {
        #expect(try check("hostname:UNIQUE", r1a, placed: [r1b, r2c]))
        #expect(try !check("hostname:UNIQUE", r1a, placed: [r1a]))
        #expect(try !check("rack:UNIQUE", r1a, placed: [r1b]))
        #expect(try check("rack:UNIQUE", r2c, placed: [r1b, r1a]))
        #expect(try !check("rack:UNIQUE", bare))
    }

    @Test func cluster() throws {
        #expect(try check("rack:CLUSTER:r1", r1a))
        #expect(try !check("rack:CLUSTER:r1", r2c))
        #expect(try check("rack:CLUSTER", r2c))
        #expect(try check("rack:CLUSTER", r1b, placed: [r1a]))
        #expect(try !check("rack:CLUSTER", r2c, placed: [r1a]))
        #expect(try !check("rack:CLUSTER", bare))
    }

    @Test func groupByWithoutCount() throws {
        // A new value always; a used one only while it has the fewest instances.
        #expect(try check("rack:GROUP_BY", r2c, placed: [r1a, r1a]))
        #expect(try check("rack:GROUP_BY", r1a, placed: [r1a, r2c]))
        #expect(try !check("rack:GROUP_BY", r1a, placed: [r1a, r1b, r2c]))
        #expect(try check("rack:GROUP_BY", r2c, placed: [r1a, r1b, r2c]))
    }

    @Test func groupByWithCount() throws {
        // 5 instances over 2 racks: 3 and 2.
        #expect(try check("rack:GROUP_BY:2", r1a, placed: [], instances: 5))
        #expect(try check("rack:GROUP_BY:2", r2c, placed: [r1a], instances: 5))
        #expect(try !check("rack:GROUP_BY:1", r2c, placed: [r1a], instances: 5))  // only one group allowed
        #expect(try check("rack:GROUP_BY:2", r1a, placed: [r1a, r1b], instances: 5))  // 2 < quota... 2 == quota, one may reach 3
        #expect(try !check("rack:GROUP_BY:2", r1a, placed: [r1a, r1b, r1a], instances: 5))  // 3 > quota
        #expect(try !check("rack:GROUP_BY:2", r2c, placed: [r1a, r1b, r1a, r2c, r2c], instances: 5))
        #expect(try check("rack:GROUP_BY:2", r2c, placed: [r1a, r1b, r1a, r2c], instances: 5))
        #expect(try !check("rack:GROUP_BY:2", r2c, placed: [r1a, r1b, r2c, r2c], instances: 4))
    }

    @Test func maxPer() throws {
        #expect(try check("rack:MAX_PER:2", r1a, placed: [r1b]))
        #expect(try !check("rack:MAX_PER:2", r1a, placed: [r1b, r1a]))
        #expect(try check("hostname:MAX_PER:2", r1a, placed: [r1b, r1a]))
    }

    @Test func likeAndUnlikeMatchTheWholeValue() throws {
        #expect(try check("rack:LIKE:r[12]", r1a))
        #expect(try !check("rack:LIKE:r", r1a))  // not a substring search
        #expect(try check("rack:UNLIKE:r2", r1a))
        #expect(try !check("rack:UNLIKE:r.", r1a))
        #expect(try !check("rack:LIKE:.*", bare))
        #expect(try check("rack:UNLIKE:.*", bare))  // missing attribute: only UNLIKE passes
        #expect(try check("hostname:LIKE:[a-c]", r1b))
        #expect(try check("tags:LIKE:\\{x,y\\}", r1a))  // sets compare sorted
    }

    @Test func isComparesMarathonText() throws {
        #expect(try check("cores:IS:4", r1a))
        #expect(try !check("cores:IS:4.0", r1a))
        #expect(try check("cores:IS:4.5", r2c))
        #expect(try check("@region:IS:eu", r1a))
        #expect(try !check("@region:IS:eu", r2c))
        #expect(try check("@zone:IS:us-1", r2c))
        #expect(try !check("@zone:IS:us-1", bare))
        #expect(try check("hostname:IS:b", r1b))
    }
}
