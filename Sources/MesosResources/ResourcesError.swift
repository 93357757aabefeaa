/// Why a resource operation was refused.
public struct ResourcesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// A resource breaks Mesos's validation rules (type, value, reservations, role, disk).
        case invalidResource
        /// A role name is invalid.
        case invalidRole
        /// A checked subtraction or a consumption asked for more than is there.
        case notContained
        /// A reservation push or pop is not allowed (STATIC pushed, not a strict sub-role, nothing to pop).
        case invalidReservation
        /// A resource cannot be expressed in the requested format (text form, pre-refinement form).
        case notRepresentable
        /// Allocation roles do not match (RESERVE targets, offers).
        case roleMismatch
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(self.code.rawValue): \(self.message)" }
}

/// Why resource text or JSON could not be parsed: where, and what was expected there.
public struct ResourcesParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 0-based offset in the input, in characters (`Character`s, i.e. grapheme clusters).
    public let offset: Int
    /// What the parser expected at ``offset``, e.g. `"':'"` or `"a valid resource (…)"`.
    public let expected: String
    /// What it found there, e.g. `"';'"` or `"end of input"`.
    public let found: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - offset: The offset in characters.
    ///   - expected: What was expected.
    ///   - found: What was found.
    public init(offset: Int, expected: String, found: String) {
        self.offset = offset
        self.expected = expected
        self.found = found
    }

    /// `at offset 12: expected ':' but found ';'`.
    public var description: String {
        "at offset \(self.offset): expected \(self.expected) but found \(self.found)"
    }
}
