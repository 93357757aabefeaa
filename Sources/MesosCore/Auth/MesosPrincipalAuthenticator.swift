/// An authenticator that authenticates as a known principal (HTTP Basic credentials, a DC/OS service account).
///
/// Mesos authorizes a framework by `FrameworkInfo.principal`, which must match the authenticated principal.
/// A scheduler whose `FrameworkInfo.principal` is empty takes this one, as mesoshttp does with a service
/// account's `uid`.
public protocol MesosPrincipalAuthenticator: MesosAuthenticator {
    /// The principal the credentials authenticate.
    var principal: String { get }
}

extension BasicAuthenticator: MesosPrincipalAuthenticator {}
