import Domain
import Testing
@testable import Catalog

/// The PII transforms of etl and storage stages (mask, hash, redact, drop): how they read, and
/// what validation refuses, each as one line with file:line and what to do.
@Suite struct PIISpecTests {
    /// A secret, a source and an output, then job `j` whose one stage adds `stage` (indented
    /// lines); the stage's first added line is line 22.
    static func job(_ stage: String) -> String {
        """
        kind: secret
        name: pii_salt
        from_env: PII_SALT
        ---
        kind: source
        name: raw
        type: csv
        path: in/customers.csv
        ---
        kind: output
        name: clean
        type: csv
        path: out/clean
        ---
        kind: job
        name: j
        stages:
          - name: load
            type: etl
            source: raw
            destination: clean
        """ + "\n" + stage
    }

    func messages(_ stage: String) -> [String] { diagnose(Self.job(stage)).map(\.description) }

    @Test func everyTransformReadsWithItsOptionsAndDefaults() throws {
        let defs = try definitions(Self.job("""
            rename: {cc: card}
            mask: {columns: [card, phone], keep: 2, with: '#'}
            hash: {columns: [email], salt: pii_salt}
            redact: {columns: [ssn, dob], with: null}
            drop: [notes]
        """))
        let t = try #require(defs.first { $0.name == "j" }).spec(as: JobSpec.self).stages[0].transform
        #expect(t.mask == TransformSpec.Mask(columns: ["card", "phone"], keep: 2, with: "#"))
        #expect(t.hash == TransformSpec.Hash(columns: ["email"], salt: "pii_salt"))
        #expect(t.redact == TransformSpec.Redact(columns: ["ssn", "dob"], with: nil))
        #expect(t.drop == ["notes"])
        #expect(t.protectedColumns.map { "\($0.protection.rawValue):\($0.column)" } == ["mask:card", "mask:phone", "hash:email", "redact:ssn", "redact:dob", "drop:notes"])

        let defaults = try definitions(Self.job("""
            mask: {columns: [card]}
            redact: {columns: [ssn]}
        """))
        let d = try #require(defaults.first { $0.name == "j" }).spec(as: JobSpec.self).stages[0].transform
        #expect(d.mask == TransformSpec.Mask(columns: ["card"], keep: 4, with: "*"))
        #expect(d.redact == TransformSpec.Redact(columns: ["ssn"], with: "[REDACTED]"))
        #expect(d.hash == nil && d.drop.isEmpty && d.hasProtections)
    }

    @Test func aNegativeKeepAndABadMaskCharacterAreRefused() {
        #expect(messages("    mask: {columns: [card], keep: -1}") == [
            "test.yaml:22:35: stages[0].mask.keep of job 'j' must be a whole number ≥ 0, got -1",
        ])
        #expect(messages("    mask: {columns: [card], with: '##'}") == [
            "test.yaml:22:35: the mask character of stage 'load' of job 'j' must be one character, got '##'; write e.g. with: '#'",
        ])
        #expect(messages("    mask: {columns: []}") == ["test.yaml:22:21: stages[0].mask.columns of job 'j' needs at least 1 item; add texts"])
    }

    @Test func aHashNeedsASaltThatIsADefinedSecret() {
        #expect(messages("    hash: {columns: [email]}") == [
            "test.yaml:22:11: stages[0].hash of job 'j' is missing required field 'salt'; add `salt:` (the name of a secret definition)",
        ])
        #expect(messages("    hash: {columns: [email], salt: pii_slat}") == [
            "test.yaml:22:36: job 'j' refers to secret 'pii_slat', which is not defined; did you mean 'pii_salt'?",
        ])
        #expect(messages("    hash: {columns: [email], salt: nope}") == [
            "test.yaml:22:36: job 'j' refers to secret 'nope', which is not defined; define it (kind: secret, name: nope) or fix the name",
        ])
    }

    @Test func aRedactionIsTextOrNull() {
        #expect(messages("    redact: {columns: [ssn], with: [x]}") == [
            "test.yaml:22:36: redact.with of stage 'load' of job 'j' must be text or null, got a list of 1; write a text such as '[REDACTED]', or null",
        ])
    }

    @Test func aColumnIsProtectedOnceByItsNameAfterRename() {
        #expect(messages("""
            mask: {columns: [card]}
            hash: {columns: [email, card], salt: pii_salt}
        """) == [
            "test.yaml:23:29: stage 'load' of job 'j' names column 'card' in both mask and hash; protect each column with one transform, once",
        ])
        #expect(messages("    drop: [notes, notes]") == [
            "test.yaml:22:19: stage 'load' of job 'j' names column 'notes' twice in drop; protect each column with one transform, once",
        ])
        #expect(messages("""
            rename: {cc: card}
            mask: {columns: [cc]}
        """) == [
            "test.yaml:23:22: mask of stage 'load' of job 'j' names 'cc', which rename turns into 'card' before the PII transforms run; name 'card'",
        ])
    }

    @Test func nothingAfterTheDropUsesADroppedColumn() {
        #expect(messages("""
            drop: [notes, ssn]
            select: [id, notes]
            filter: "ssn != ''"
            partition_by: [notes]
            derive: {has_ssn: "ssn != ''"}
        """) == [
            "test.yaml:23:18: select of stage 'load' of job 'j' uses column 'notes', which the stage drops; remove it from drop, or from select",
            "test.yaml:24:13: filter of stage 'load' of job 'j' uses column 'ssn', which the stage drops; remove it from drop, or from filter",
            "test.yaml:25:20: partition_by of stage 'load' of job 'j' uses column 'notes', which the stage drops; remove it from drop, or from partition_by",
            "test.yaml:26:23: derive 'has_ssn' of stage 'load' of job 'j' uses column 'ssn', which the stage drops; remove it from drop, or from derive 'has_ssn'",
        ])
    }

    @Test func aStorageStageTakesThemToo() throws {
        let defs = try definitions(Self.job("    drop: [notes]").replacingOccurrences(of: "type: etl", with: "type: storage"))
        #expect(try #require(defs.first { $0.name == "j" }).spec(as: JobSpec.self).stages[0].transform.drop == ["notes"])
    }
}
