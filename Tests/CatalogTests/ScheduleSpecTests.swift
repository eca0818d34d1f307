import Domain
import Testing
@testable import Catalog

/// The schedule kind and a model's retraining schedule: what they accept, and the one line with
/// file:line each mistake gets.
@Suite struct ScheduleSpecTests {
    static let job = """
    kind: job
    name: report
    parameters: {region: eu}
    stages: [{name: a, type: script, command: ["true"]}]
    """

    @Test func aFullScheduleReadsWithItsDefaults() throws {
        let defs = try definitions(Self.job + """

        ---
        kind: schedule
        name: nightly
        cron: "30 2 * * *"
        timezone: Europe/Berlin
        job: report
        start_at: 2026-03-01T00:00:00Z
        end_at: 2026-12-31T23:00:00+01:00
        catch_up: all
        max_catch_up: 10
        overlap: queue
        parameters: {region: us}
        ---
        kind: schedule
        name: pulse
        every: 1m30s
        job: report
        """)
        let nightly = try #require(defs.first { $0.name == "nightly" }?.typedSpec.as(ScheduleSpec.self))
        #expect(nightly.cron == "30 2 * * *" && nightly.every == nil && nightly.timezone == "Europe/Berlin")
        #expect(nightly.startAt == Timestamp.parse("2026-03-01T00:00:00Z") && nightly.endAt == Timestamp.parse("2026-12-31T22:00:00Z"))
        #expect(nightly.catchUp == .all && nightly.maxCatchUp == 10 && nightly.overlap == .queue)
        #expect(nightly.zone.identifier == "Europe/Berlin")
        let pulse = try #require(defs.first { $0.name == "pulse" }?.typedSpec.as(ScheduleSpec.self))
        #expect(pulse.every == 90 && pulse.cron == nil && pulse.timezone == nil && pulse.catchUp == nil && pulse.overlap == nil)
    }

    @Test(arguments: [
        ("timezone: Mars/Olympus_Mons\ncron: '0 6 * * *'",
         "test.yaml:9:11: timezone of schedule 's' is 'Mars/Olympus_Mons', which is not a known time zone; use an IANA name such as UTC, Europe/Amsterdam or America/New_York"),
        ("every: 0.5s",
         "test.yaml:9:8: every of schedule 's' is 0.5s, below the shortest interval of 1s; use 1s or more"),
        ("every: 500ms",
         "test.yaml:9:8: every of schedule 's' is 0.5s, below the shortest interval of 1s; use 1s or more"),
        ("cron: '0 6 * * *'\nevery: 1h",
         "test.yaml:10:8: schedule 's' has both cron and every; keep one of them"),
        ("catch_up: all",
         "test.yaml:6:1: schedule 's' says neither when (cron) nor how often (every); add `cron: '0 6 * * *'` or `every: 1h`"),
        ("every: 1h\nstart_at: 2026-05-01T00:00:00Z\nend_at: 2026-05-01T02:00:00+02:00",
         "test.yaml:11:9: end_at of schedule 's' (2026-05-01T00:00:00Z) is not after its start_at (2026-05-01T00:00:00Z); set end_at later than start_at, or remove one of them"),
        ("every: 1h\nstart_at: tomorrow",
         "test.yaml:10:11: start_at of schedule 's' is 'tomorrow', which is not an RFC 3339 time; write e.g. 2026-11-22T06:00:00Z or 2026-11-22T07:00:00+01:00"),
        ("every: 1h\nmax_catch_up: 0",
         "test.yaml:10:15: max_catch_up of schedule 's' must be a whole number ≥ 1, got 0"),
        ("every: 1h\nmax_catch_up: 10001",
         "test.yaml:10:15: max_catch_up of schedule 's' is 10001, over the limit of 10000 runs requested at once; use 10000 or less"),
        ("every: 1h\noverlap: wait",
         "test.yaml:10:10: overlap of schedule 's' is 'wait', which is not one of skip, queue, allow; use one of them"),
        ("every: 1h\nparameters: {regoin: us}",
         "test.yaml:10:22: schedule 's' passes parameter 'regoin', which job 'report' does not take; did you mean 'region'?"),
        ("every: 1h\nparameters: {scheduled_time: x}",
         "test.yaml:10:30: schedule 's' sets parameter scheduled_time, which the engine sets to each tick's time; remove it (the run gets it anyway)"),
    ])
    func aBadScheduleIsOneLineWithItsPlace(_ fields: String, _ expected: String) {
        let text = Self.job + "\n---\nkind: schedule\nname: s\njob: report\n" + fields + "\n"
        let lines = diagnose(text).map(\.description)
        #expect(lines == [expected])
    }

    @Test func anInvalidCronIsReportedOnceNotAlsoAsMissing() {
        let lines = diagnose(Self.job + "\n---\nkind: schedule\nname: s\njob: report\ncron: '0 25 * * *'\n").map(\.description)
        #expect(lines.count == 1 && lines[0].contains("hour 25 is out of range"))
    }

    static let model = """
    kind: source
    name: customers
    type: csv
    path: in/customers.csv
    ---
    kind: model
    name: churn
    type: logistic_regression
    target: churned
    training_dataset: customers
    """

    static func trainer(_ name: String) -> String {
        "\n---\nkind: job\nname: \(name)\nstages: [{name: fit, type: train, model: churn}]\n"
    }

    @Test func aRetrainingScheduleRunsTheOnlyJobThatTrainsTheModel() throws {
        let defs = try definitions(Self.model + "\nretrain: {schedule: '0 3 * * 1', timezone: Europe/Amsterdam}" + Self.trainer("train_churn"))
        let spec = try #require(defs.first { $0.name == "churn" }?.typedSpec.as(ModelSpec.self))
        #expect(spec.retrain == ModelSpec.Retrain(schedule: "0 3 * * 1", timezone: "Europe/Amsterdam"))
    }

    @Test func aRetrainingScheduleWithoutATrainingJobNamesTheModel() {
        let lines = diagnose(Self.model + "\nretrain: {schedule: '0 3 * * 1'}\n").map(\.description)
        #expect(lines == ["test.yaml:11:21: model 'churn' retrains on a schedule, but no job trains it (no job has a train stage for it); add a job with a `type: train` stage with `model: churn`"])
    }

    @Test func severalTrainingJobsAskForRetrainJobAndNameThem() throws {
        let both = Self.trainer("train_a") + Self.trainer("train_b")
        let lines = diagnose(Self.model + "\nretrain: {schedule: '0 3 * * 1'}" + both).map(\.description)
        #expect(lines == ["test.yaml:11:21: model 'churn' retrains on a schedule and several jobs train it: train_a, train_b; say which one with `retrain.job`"])
        _ = try definitions(Self.model + "\nretrain: {schedule: '0 3 * * 1', job: train_b}" + both)
        let wrong = diagnose(Self.model + "\nretrain: {schedule: '0 3 * * 1', job: report}" + both + "\n---\n" + Self.job + "\n").map(\.description)
        #expect(wrong == ["test.yaml:11:39: retrain.job of model 'churn' is job 'report', which does not train it; name a job that trains it: train_a, train_b"])
    }
}
