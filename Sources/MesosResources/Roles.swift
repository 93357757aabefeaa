/// Mesos role names: validation and the hierarchy (`eng/backend` is a sub-role of `eng`).
public enum MesosRole {
    /// The unreserved role, `*`.
    public static let any = "*"

    /// Checks a role name with Mesos's rules.
    ///
    /// `*` is valid. Otherwise the name must be non-empty, must not start or end with `/` or contain `//`,
    /// and no `/`-separated component may be `.`, `..` or `*`, start with `-`, or contain whitespace or
    /// control characters.
    ///
    /// - Parameter role: The role name.
    /// - Throws: ``ResourcesError/Code/invalidRole`` saying why.
    public static func validate(_ role: String) throws(ResourcesError) {
        if role == Self.any { return }
        guard !role.isEmpty else { throw ResourcesError(.invalidRole, "empty role name") }
        if role.hasPrefix("/") || role.hasSuffix("/") {
            throw ResourcesError(.invalidRole, "role '\(role)' starts or ends with '/'")
        }
        if role.contains("//") { throw ResourcesError(.invalidRole, "role '\(role)' contains '//'") }
        for component in role.split(separator: "/", omittingEmptySubsequences: false) {
            if component == "." || component == ".." || component == "*" {
                throw ResourcesError(.invalidRole, "role '\(role)' has the component '\(component)'")
            }
            if component.hasPrefix("-") {
                throw ResourcesError(.invalidRole, "role '\(role)' has a component starting with '-'")
            }
            if component.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
            {
                throw ResourcesError(.invalidRole, "role '\(role)' contains whitespace or a control character")
            }
        }
    }

    /// Whether ``validate(_:)`` accepts the name.
    ///
    /// - Parameter role: The role name.
    public static func isValid(_ role: String) -> Bool {
        do { try Self.validate(role); return true } catch { return false }
    }

    /// Whether `role` is a strict sub-role of `ancestor`: `ancestor` is a prefix of `role` and `role`
    /// continues with `/`. `eng/backend` is one of `eng`; `engineering` and `eng` are not.
    ///
    /// - Parameters:
    ///   - role: The candidate descendant.
    ///   - ancestor: The candidate ancestor.
    public static func isStrictSubrole(_ role: String, of ancestor: String) -> Bool {
        role.count > ancestor.count && role.hasPrefix(ancestor + "/")
    }

    /// Whether `role` is `ancestor` or one of its strict sub-roles.
    ///
    /// - Parameters:
    ///   - role: The candidate descendant.
    ///   - ancestor: The candidate ancestor.
    public static func isSameOrSubrole(_ role: String, of ancestor: String) -> Bool {
        role == ancestor || Self.isStrictSubrole(role, of: ancestor)
    }
}
