@testable import Catalog
import Testing

/// `NAME@N` in a stage's inputs and source: how it reads, and what apply says of a bad one.
struct DatasetReferenceTests {
    @Test(arguments: [("orders", "orders", nil), ("orders@3", "orders", 3), ("a@b@12", "a@b", 12)] as [(String, String, UInt64?)])
    func aReferenceReadsAsNameAndVersion(_ text: String, _ name: String, _ version: UInt64?) throws {
        let ref = try #require(DatasetReference(text))
        #expect(ref.name == name && ref.version == version)
        #expect(ref.text == text)
    }

    @Test(arguments: ["orders@0", "orders@", "@3", "orders@-1", "orders@x", "orders@3.0", "orders@ 3", "orders@99999999999999999999999"])
    func aVersionThatIsNoPositiveIntegerDoesNotRead(_ text: String) {
        #expect(DatasetReference(text) == nil)
    }

    static let catalog = """
    kind: source
    name: orders
    type: jsonl
    path: in/orders.jsonl
    ---
    kind: output
    name: copy
    type: jsonl
    path: out/copy
    ---
    kind: job
    name: j
    stages:

    """

    @Test func versionedInputsAndSourcesApply() throws {
        let defs = try definitions(Self.catalog + """
          - {name: a, type: etl, inputs: [orders@2, copy@1], outputs: [copy]}
          - {name: b, type: etl, source: orders@4, outputs: [copy]}
        """)
        #expect(defs.count == 3)
    }

    @Test func aModelTrainsOnAVersionThatReads() {
        let model = "kind: model\nname: m\ntype: kmeans\nhyperparameters: {k: 2, n_init: 1, seed: 7}\ntraining_dataset: "
        #expect(diagnose(Self.catalog + "  - {name: a, type: etl, source: orders, outputs: [copy]}\n---\n" + model + "copy@2\n").isEmpty)
        let bad = diagnose(Self.catalog + "  - {name: a, type: etl, source: orders, outputs: [copy]}\n---\n" + model + "copy@0\n")
        #expect(bad.map(\.description).count == 1 && bad.first?.description.contains("model 'm' trains on 'copy@0', whose version is not a positive integer") == true, "\(bad)")
    }

    @Test(arguments: [("inputs: [orders@0]", "test.yaml:14:35: stage 'a' of job 'j' reads 'orders@0', whose version is not a positive integer"),
                      ("inputs: [copy@v2]", "test.yaml:14:35: stage 'a' of job 'j' reads 'copy@v2', whose version is not a positive integer"),
                      ("inputs: [nope@2]", "test.yaml:14:35: stage 'a' of job 'j' reads version 2 of 'nope', which is no dataset"),
                      ("source: orders@0", "test.yaml:14:34: stage 'a' of job 'j' reads 'orders@0', whose version is not a positive integer"),
                      ("source: nope@2", "test.yaml:14:34: job 'j' refers to source 'nope', which is not defined")])
    func aBadVersionedReadIsOneErrorAtItsLine(_ field: String, _ expected: String) {
        let errors = diagnose(Self.catalog + "  - {name: a, type: etl, \(field), outputs: [copy]}\n")
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.description.hasPrefix(expected) == true, "\(errors)")
    }
}
