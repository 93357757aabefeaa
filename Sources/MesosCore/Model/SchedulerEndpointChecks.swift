#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

/// The checks a Mesos master makes on a request to `/api/v1/scheduler`, in the master's order, with its status
/// codes and texts (PROTOCOL.md §1.1). The package's two masters (the test kit's fake and the local cluster's)
/// both answer through these, so the rules live in one place.
///
/// Each check returns a ``Refusal`` (what the master answers) or lets the request through. Leadership, recovery
/// and authentication come before these and are the caller's; so is looking the framework up.
package enum SchedulerEndpointChecks {
    /// A request the master refuses: the status, its plain-text body and any extra headers.
    package struct Refusal: Error, Equatable {
        /// The status code.
        package var status: Int
        /// The plain-text body.
        package var text: String
        /// Extra headers (`Allow` for 405).
        package var headers: MesosHTTPHeaders

        /// A refusal.
        package init(_ status: Int, _ text: String, headers: MesosHTTPHeaders = [:]) {
            self.status = status
            self.text = text
            self.headers = headers
        }
    }

    /// What the master knows of the framework a non-SUBSCRIBE call names.
    package enum Standing: Sendable, Equatable {
        /// No such framework (or it was removed).
        case unknown
        /// Known, but with no live subscription.
        case notSubscribed
        /// Subscribed on the stream with this id.
        case subscribed(streamID: String)
    }

    /// The checks up to call validation (rows 4–6): the method, the exact `Content-Type`, decoding and, when
    /// `validates` is set, ``SchedulerCall/validate()`` (an UNKNOWN call only needs its framework id, and is
    /// answered 501 later, as the master does).
    ///
    /// - Returns: The call, when the body decoded (even if a later check refused it, so a fake can record it),
    ///   and the refusal, if any.
    package static func decodeCall(
        method: String,
        headers: MesosHTTPHeaders,
        body: ArraySlice<UInt8>,
        validates: Bool = true
    ) -> (call: SchedulerCall?, refusal: Refusal?) {
        let (decoded, refusal) = Self.decodeBody(SchedulerCall.self, method: method, headers: headers, body: body)
        guard let call = decoded else {
            return (nil, refusal)
        }
        guard call.hasType else {
            return (call, Refusal(400, "Failed to validate scheduler::Call: Expecting 'type' to be present"))
        }
        guard validates else {
            return (call, nil)
        }
        if call.type == .unknown {
            guard call.hasFrameworkID, !call.frameworkID.value.isEmpty else {
                return (call, Refusal(400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present"))
            }
            return (call, nil)
        }
        do {
            try call.validate()
        } catch {
            return (call, Refusal(400, "Failed to validate scheduler::Call: \(error.message)"))
        }
        return (call, nil)
    }

    /// Rows 2–5 of both the master's scheduler endpoint and the agent's executor endpoint: the method, the exact
    /// `Content-Type`, and a body that decodes as `type`.
    ///
    /// - Returns: The message, or the refusal.
    package static func decodeBody<Call: SwiftProtobuf.Message>(
        _ type: Call.Type,
        method: String,
        headers: MesosHTTPHeaders,
        body: ArraySlice<UInt8>
    ) -> (call: Call?, refusal: Refusal?) {
        guard method == "POST" else {
            return (nil, Refusal(405, "Expecting 'POST', received '\(method)'", headers: ["Allow": "POST"]))
        }
        guard let contentType = headers["Content-Type"] else {
            return (nil, Refusal(400, "Expecting 'Content-Type' to be present"))
        }
        let codec: MesosCodec
        switch contentType {
        case MesosContentType.json.mediaType: codec = MesosCodec(.json)
        case MesosContentType.protobuf.mediaType: codec = MesosCodec(.protobuf)
        default: return (nil, Refusal(415, "Expecting 'Content-Type' of application/json or application/x-protobuf"))
        }
        do {
            return (try codec.decode(Call.self, from: body), nil)
        } catch {
            return (nil, Refusal(400, "Failed to parse body into Call protobuf: \(error.message)"))
        }
    }

    /// The SUBSCRIBE checks (rows 7–8): `Accept` must allow JSON or protobuf, and no `Mesos-Stream-Id`.
    ///
    /// - Returns: The encoding of the event stream, or the refusal.
    package static func subscribe(headers: MesosHTTPHeaders) -> Result<MesosContentType, Refusal> {
        guard let contentType = self.negotiate(accept: headers["Accept"]) else {
            return .failure(Refusal(406, "Expecting 'Accept' to allow application/json or application/x-protobuf"))
        }
        guard headers["Mesos-Stream-Id"] == nil else {
            return .failure(Refusal(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"))
        }
        return .success(contentType)
    }

    /// Row 10: the framework must be known.
    package static let frameworkNotFound = Refusal(400, "Framework cannot be found")

    /// Row 11: the authenticated principal must be the framework's.
    package static func principalMismatch(authenticated: String, declared: String) -> Refusal {
        Refusal(400, "Authenticated principal '\(authenticated)' does not match principal '\(declared)' set in `FrameworkInfo`")
    }

    /// Rows 10, 12 and 14 for a non-SUBSCRIBE call: the framework known, subscribed, and the request on its
    /// current stream.
    ///
    /// - Returns: The refusal, or `nil` if the call may proceed.
    package static func stream(frameworkID: String, standing: Standing, headers: MesosHTTPHeaders) -> Refusal? {
        let current: String
        switch standing {
        case .unknown:
            return self.frameworkNotFound
        case .notSubscribed:
            return Refusal(403, "Framework is not subscribed")
        case .subscribed(let streamID):
            current = streamID
        }
        guard let streamID = headers["Mesos-Stream-Id"] else {
            return Refusal(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        }
        guard streamID == current else {
            return Refusal(
                400,
                "The stream ID '\(streamID)' included in this request didn't match the stream ID currently "
                    + "associated with framework ID \(frameworkID)"
            )
        }
        return nil
    }

    /// The answer to a call of type UNKNOWN that passed every other check.
    package static let unknownCall = Refusal(501, "Received 'UNKNOWN' call")

    /// Chooses the SUBSCRIBE response encoding from an `Accept` header as the master does: JSON first
    /// (`application/json`, `application/*`, `*/*`), then protobuf; for each, the most specific matching media
    /// range decides and `q=0` refuses. A missing or blank header accepts everything (JSON).
    package static func negotiate(accept: String?) -> MesosContentType? {
        guard let accept, !accept.allSatisfy({ $0 == " " || $0 == "\t" }) else {
            return .json
        }
        let ranges = accept.split(separator: ",").compactMap(MediaRange.init)
        func accepts(_ subtype: String) -> Bool {
            let exact = ranges.filter { $0.type == "application" && $0.subtype == subtype }
            let partial = ranges.filter { $0.type == "application" && $0.subtype == "*" }
            let any = ranges.filter { $0.type == "*" && $0.subtype == "*" }
            guard let best = [exact, partial, any].first(where: { !$0.isEmpty }) else {
                return false
            }
            return best.contains { $0.quality > 0 }
        }
        if accepts("json") {
            return .json
        }
        if accepts("x-protobuf") {
            return .protobuf
        }
        return nil
    }

    /// One media range of an `Accept` header; `nil` for one that is malformed (ignored, as the master does).
    private struct MediaRange {
        var type: String
        var subtype: String
        var quality: Double = 1

        init?(_ text: Substring) {
            let parts = text.split(separator: ";").map { $0.trimmingCharacters(in: " \t").lowercased() }
            guard let media = parts.first else {
                return nil
            }
            let pieces = media.split(separator: "/", maxSplits: 1)
            guard pieces.count == 2 else {
                return nil
            }
            self.type = String(pieces[0])
            self.subtype = String(pieces[1])
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingCharacters(in: " \t") == "q" {
                    guard let quality = Double(pair[1].trimmingCharacters(in: " \t")), (0...1).contains(quality)
                    else {
                        return nil
                    }
                    self.quality = quality
                }
            }
        }
    }
}
