import Domain
import EventLog
import Models
import Projections
import Runs

/// Moves a model's alias, as `ledgerflow models promote` and the console's API do it.
public enum ModelWrites {
    /// What a promotion did: the alias's previous version and the event's seq.
    public struct Promoted: Sendable {
        public var previous: UInt64?
        public var seq: UInt64
    }

    /// Points `alias` of `model` at `version` (a `ModelPromoted` by `actor`); refused with the
    /// decider's one line, or when the model's stream moved meanwhile.
    public static func promote(_ log: EventLog, model: String, version: UInt64, alias: String, actor: String, reason: String?) throws -> Promoted {
        let state = try ProjectionRunner(log: log, projection: ModelsProjection()).state(at: try log.lastSeq()).state
        let event = try ModelDecider.promote(state, model: model, version: version, alias: alias, by: actor, reason: reason)
        let expected = state.models[model]?.streamVersion ?? 0
        do {
            let r = try log.append([event], to: MLEvents.stream(model: model), expectedVersion: .exact(expected), actor: actor)
            return Promoted(previous: state.models[model]?.aliases[alias], seq: r.firstSeq ?? 0)
        } catch let e as WrongExpectedVersion {
            throw RunCommandError("model '\(model)' changed while promoting (\(e)); try again")
        }
    }
}
