import Domain
import Foundation
import TestSupport
import Testing

/// Seed 003 as a scenario, through the binary: `fixtures/scenarios/seed003/pipelines.yaml` applied
/// unchanged in a project folder whose `modules/` the scenario's generator filled (lake folders of
/// CSV files and a SQLite database). Each module's child job `31-module-semantic-model` is run
/// standalone, as the parent's for_each runs it; the broken module fails naming its missing
/// folder; `32-publish-semantic-models` merges the batch into `ai_workstation/`, one partition per
/// module and client; and the parent `30-semantic-models` does it all with the for_each.
@Suite(.timeLimit(.minutes(3))) struct Seed003CLITests {
    /// An active module of the config table, and what the generator wrote for it.
    struct Module {
        var path, name, client, product: String
        var rows: Int
        var parameters: [String] {
            ["--param", "module_path=\(path)", "--param", "module_name=\(name)", "--param", "client_code=\(client)",
             "--param", "product_code=\(product)", "--param", "batch=b1"]
        }
    }

    static let lake = [Module(path: "modules/lake/payments/cards", name: "cards", client: "NL01", product: "P1", rows: 24),
                       Module(path: "modules/lake/payments/transfers", name: "transfers", client: "BE02", product: "P1", rows: 18),
                       Module(path: "modules/lake/insurance/policies", name: "policies", client: "NL01", product: "P3", rows: 15)]
    static let sql = [Module(path: "modules/azure_sql/lending.sqlite", name: "mortgages", client: "NL01", product: "P2", rows: 12),
                      Module(path: "modules/azure_sql/lending.sqlite", name: "consumer_loans", client: "DE03", product: "P2", rows: 20)]
    static let broken = Module(path: "modules/lake/insurance/claims", name: "claims", client: "BE02", product: "P3", rows: 0)
    static let canonical = ["module_name", "client_code", "product_code", "record_id", "record_date", "amount", "customer_id", "batch"]

    /// A project folder with the scenario copied in as `seed003/`, its modules generated and its
    /// definitions applied.
    struct Project {
        let dir = TemporaryDirectory("seed003")
        var store: String { dir.sub(".ledgerflow") }
        init() throws {
            try FileManager.default.copyItem(atPath: CatalogCLITests.fixture("fixtures/scenarios/seed003"), toPath: dir.sub("seed003"))
            let generated = try run("/usr/bin/env", ["python3", "seed003/generate_lake.py", "modules"], cwd: dir.path)
            #expect(generated.status == 0, "\(generated.stderr)")
            #expect(try lf(["init"]).status == 0)
            let applied = try lf(["apply", "seed003/pipelines.yaml"])
            #expect(applied.status == 0, "\(applied.stderr)")
        }
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }
        func events(_ type: String) throws -> [Value] {
            try lf(["events", "--json", "--type", type]).lines.compactMap { try Value(json: $0)["payload"] }
        }
        /// The rows of every JSON Lines file under `folder` (relative to the project).
        func jsonl(_ folder: String) throws -> [Value] {
            let root = dir.sub(folder)
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".jsonl") } ?? []
            return try files.sorted().flatMap { f in
                try String(contentsOfFile: root + "/" + f, encoding: .utf8).split(whereSeparator: \.isNewline).map { try Value(json: String($0)) }
            }
        }
        /// The module's semantic model as batch b1 holds it.
        func semantic(_ m: Module) throws -> [Value] { try jsonl("work/b1/semantic/\(m.name)/\(m.client)") }
    }

    /// The first record of a lake module, as its product names the columns (the sorted first file's first row).
    func firstLakeRecord(_ p: Project, _ m: Module) throws -> [String: String] {
        let text = try String(contentsOfFile: p.dir.sub(m.path + "/date=2026-11-01/part-0000.csv"), encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",").map(String.init) }
        return Dictionary(uniqueKeysWithValues: zip(lines[0], lines[1]))
    }

    @Test func aLakeModuleAndAnAzureSQLModuleEachBecomeTheirSemanticModel() throws {
        let p = try Project()
        for m in Self.lake + Self.sql {
            let r = try p.lf(["run", "31-module-semantic-model"] + m.parameters)
            #expect(r.status == 0, "\(m.name): \(r.stdout)\(r.stderr)")
            let rows = try p.semantic(m)
            #expect(rows.count == m.rows, "\(m.name)")
            for row in rows {
                #expect(row.objectMembers?.map(\.key).sorted() == Self.canonical.sorted(), "\(m.name): \(row.jsonString)")
                #expect(row["module_name"] == .string(m.name) && row["client_code"] == .string(m.client) && row["product_code"] == .string(m.product)
                        && row["batch"] == "b1")
                #expect(row["amount"]?.doubleValue != nil && row["record_id"]?.stringValue?.hasPrefix(String(m.name.prefix(3)).uppercased()) == true,
                        "\(m.name): \(row.jsonString)")
            }
        }
        // The product's own column names became the canonical ones, value for value.
        let cards = try firstLakeRecord(p, Self.lake[0])
        let cardRow = try #require(try p.semantic(Self.lake[0]).first)
        #expect(cardRow["record_id"]?.stringValue == cards["txn_id"] && cardRow["customer_id"]?.stringValue == cards["cust_ref"]
                && cardRow["amount"]?.doubleValue == Double(cards["amt_eur"] ?? ""))
        let policies = try firstLakeRecord(p, Self.lake[2])
        #expect(try p.semantic(Self.lake[2]).first?["customer_id"]?.stringValue == policies["holder_id"])
        let mortgage = try run("/usr/bin/sqlite3", [p.dir.sub("modules/azure_sql/lending.sqlite"),
                                                    "SELECT LoanNo, ClientNumber FROM mortgages ORDER BY rowid LIMIT 1"]).stdout
        let first = try #require(try p.semantic(Self.sql[0]).first)
        #expect(mortgage.trimmingCharacters(in: .whitespacesAndNewlines) == "\(first["record_id"]?.stringValue ?? "")|\(first["customer_id"]?.stringValue ?? "")")
        // A lake module skips the SQL read and the other way round; every mapping covered every column.
        let skipped = try p.events("StageSkipped").compactMap { $0["stage"]?.stringValue }
        #expect(skipped.sorted() == ["read_lake", "read_lake", "read_sql", "read_sql", "read_sql"])
        let maps = try p.events("StageSucceeded").filter { $0["stage"] == "map" }
        #expect(maps.count == 5 && maps.allSatisfy { $0["outputs"]?["missing"] == .object([]) && $0["outputs"]?["unmapped"] == .object([]) })
        #expect(try p.events("RunFailed").isEmpty)
    }

    @Test func theGeneratorWritesTheSameModulesForTheSameSeed() throws {
        let dir = TemporaryDirectory("seed003-gen")
        let script = CatalogCLITests.fixture("fixtures/scenarios/seed003/generate_lake.py")
        func contents(_ folder: String) throws -> [String: Data] {
            let root = dir.sub(folder)
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
            var out: [String: Data] = [:]
            for f in files where !f.hasSuffix("/") {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: root + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                    out[f] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + f))
                }
            }
            return out
        }
        for (folder, seed) in [("a", "3"), ("b", "3"), ("c", "4")] {
            #expect(try run("/usr/bin/env", ["python3", script, folder, "--seed", seed], cwd: dir.path).status == 0)
        }
        let a = try contents("a")
        #expect(a.count == 10, "9 lake files and one database: \(a.keys.sorted())")
        #expect(try contents("b") == a)
        #expect(try contents("c") != a)
    }

    @Test func aModuleWhoseDataIsMissingFailsNamingItsPath() throws {
        let p = try Project()
        let r = try p.lf(["run", "31-module-semantic-model"] + Self.broken.parameters)
        #expect(r.status == 1)
        let problem = "csv source seed003_module_lake: \(p.dir.sub(Self.broken.path)) does not exist; deliver the data there or fix the path"
        #expect((r.stdout + r.stderr).contains(problem), "\(r.stdout)\(r.stderr)")
        let failed = try p.events("StageFailed")
        #expect(failed.count == 1 && failed.first?["stage"] == "read_lake" && failed.first?["error"] == .string(problem))
        #expect(try p.events("RunFailed").first?["failed_stages"] == ["read_lake"])
        // Nothing half-made: the mapping and the model were skipped, no semantic model was written.
        #expect(Set(try p.events("StageSkipped").compactMap { $0["stage"]?.stringValue }) == ["read_sql", "map", "model"])
        #expect(!FileManager.default.fileExists(atPath: p.dir.sub("work/b1/semantic/claims")))
    }

    /// The parent `30-semantic-models`: a for_each over the active rows of the config
    /// table runs the child per module, three at a time, going on after the broken one; the
    /// publish runs on completion; the failed item's product team (`item_owner`) and data-platform
    /// (the parent's owner) are mailed through a real aiosmtpd.
    @Test func theParentRunsEveryActiveModulePublishesAndMailsTheFailedModulesTeam() throws {
        let p = try Project()
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        try sink.notifierYAML().write(toFile: p.dir.sub("notifier.yaml"), atomically: true, encoding: .utf8)
        let applied = try p.lf(["apply", "seed003/pipelines.yaml", "notifier.yaml"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try p.lf(["run", "30-semantic-models", "--detach"]).status == 0)
        let work = try p.lf(["work", "--once"])
        #expect(work.status == 0, "\(work.stderr)")

        // One child per active row (archive is inactive), the publish's child, and their outcomes.
        let requested = try p.events("RunRequested")
        let items = requested.filter { $0["job"] == "31-module-semantic-model" }
        let modules = Self.lake + Self.sql + [Self.broken]
        #expect(Set(items.compactMap { $0["parameters"]?["module_name"]?.stringValue }) == Set(modules.map(\.name)))
        #expect(items.allSatisfy { $0["parameters"]?["batch"] == "1" }, "the parent's run id is the batch")
        #expect(requested.filter { $0["job"] == "32-publish-semantic-models" }.count == 1)
        // The parent fails (an item failed) after the publish ran on completion.
        let parent = try Value(json: p.lf(["status", "1", "--json"]).stdout)
        #expect(parent["job"] == "30-semantic-models" && parent["status"] == "failed" && parent["succeeded_stages"] == 1, "\(parent.jsonString)")
        let files = (FileManager.default.enumerator(atPath: p.dir.sub("ai_workstation"))?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".csv") }
        #expect(Set(files.map { ($0 as NSString).deletingLastPathComponent })
                == Set((Self.lake + Self.sql).map { "module_name=\($0.name)/client_code=\($0.client)" }), "\(files)")

        let mails = try sink.messages()
        let insurance = mails.filter { $0.recipients == ["insurance-data@example.com"] }
        #expect(insurance.count == 1 && insurance.allSatisfy { $0.decodedBody.contains("claims") && $0.decodedBody.contains("does not exist") },
                "\(mails.map(\.recipients)) \(insurance.map(\.decodedBody))")
        #expect(mails.contains { $0.recipients == ["data-platform@example.com"] && $0.header("Subject")?.contains("30-semantic-models run 1 failed") == true },
                "\(mails.map { ($0.recipients, $0.header("Subject") ?? "") })")
        #expect(!mails.contains { $0.recipients.contains { ["payments-data@example.com", "lending-data@example.com"].contains($0) } })
        // The summary mail's success metrics: the items' outcomes, the failed item, the rows published.
        let summary = mails.first { $0.recipients == ["data-platform@example.com"] }?.decodedBody ?? ""
        let published = (Self.lake + Self.sql).map(\.rows).reduce(0, +)
        #expect(summary.contains("6 items: 5 succeeded, 1 failed"), "\(summary)")
        #expect(summary.contains("item 5 (") && summary.contains("module_name=claims"), "\(summary)")
        #expect(summary.contains("of job 32-publish-semantic-models: succeeded; publish: \(published) rows read, \(published) rows written"), "\(summary)")
        // status lists each item with its run and outcome.
        let status = try p.lf(["status", "1"]).stdout
        let table = status.components(separatedBy: "items of modules:").last ?? ""
        #expect(table.split(separator: "\n").filter { $0.hasSuffix("succeeded") }.count == 5 && table.contains("module_name=claims"), "\(status)")
    }

    @Test func theBatchIsPublishedOnePartitionPerModuleAndClient() throws {
        let p = try Project()
        for m in Self.lake + Self.sql + [Self.broken] { _ = try p.lf(["run", "31-module-semantic-model"] + m.parameters) }
        let published = try p.lf(["run", "32-publish-semantic-models", "--param", "batch=b1"])
        #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
        let root = p.dir.sub("ai_workstation")
        let files = (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".csv") }
        let good = Self.lake + Self.sql
        #expect(Set(files.map { ($0 as NSString).deletingLastPathComponent })
                == Set(good.map { "module_name=\($0.name)/client_code=\($0.client)" }), "\(files)")
        for m in good {
            let file = try #require(files.first { $0.hasPrefix("module_name=\(m.name)/") })
            let lines = try String(contentsOfFile: root + "/" + file, encoding: .utf8).split(whereSeparator: \.isNewline)
            #expect(lines.first == Substring(Self.canonical.joined(separator: ",")))
            #expect(lines.count == m.rows + 1, "\(m.name)")
            #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("\(m.name),\(m.client),\(m.product),") }, "\(m.name)")
        }
        let written = try #require(try p.events("DatasetVersionWritten").last { $0["dataset"] == "seed003_ai_workstation" })
        #expect(written["rows"] == .int(Int64(good.reduce(0) { $0 + $1.rows })))
        #expect(written["partitions"]?.arrayValue?.count == good.count)
    }
}
