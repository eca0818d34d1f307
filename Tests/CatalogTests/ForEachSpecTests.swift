import Domain
import Testing
@testable import Catalog

/// for_each stages (loops): how the spec reads, its items from a config table or a list, the
/// parameters each item gets, and what apply would refuse.
@Suite struct ForEachSpecTests {
    typealias ForEach = StageSpec.ForEach

    /// Four rows, the third inactive.
    static let modules = ConfigTableSpec(rows: [
        .init(modulePath: "/m/a", moduleName: "sales", clientCode: "c1", productCode: "P1"),
        .init(modulePath: "/m/b", moduleName: "stock", submodule: "eu", clientCode: "c2", active: true, productCode: "P2"),
        .init(modulePath: "/m/c", moduleName: "hr", clientCode: "c3", active: false, productCode: "P1"),
        .init(modulePath: "/m/d", moduleName: "ops", clientCode: "c4", productCode: "P1"),
    ])

    static func spec(_ json: String) throws -> ForEach { try ForEach(try Value(json: json)) }

    @Test func readsAConfigTableSourceWithDefaults() throws {
        let loop = try Self.spec(#"{"job": "load", "items": {"config_table": "modules", "where": "product_code == 'P1'"}, "parameters": {"client": "${item.client_code}"}}"#)
        #expect(loop.job == "load")
        #expect(loop.items == .configTable(name: "modules", where: "product_code == 'P1'"))
        #expect(loop.maxParallel == 1)
        #expect(loop.continueOnError == false)
        #expect(loop.itemFields == ["client_code"])
    }

    @Test func readsAListSourceAndItsOptions() throws {
        let loop = try Self.spec(#"{"job": "load", "items": {"list": [1, 2]}, "max_parallel": 3, "continue_on_error": true}"#)
        #expect(loop.items == .list([.int(1), .int(2)]))
        #expect(loop.maxParallel == 3)
        #expect(loop.continueOnError)
    }

    @Test func anItemsWithoutASourceFailsNamingTheField() throws {
        do {
            _ = try Self.spec(#"{"job": "load", "items": {"rows": 3}}"#)
            Issue.record("an items without a source read")
        } catch let failure as DecodingFailure {
            #expect(failure.field == "items")
        }
    }

    @Test func theActiveRowsOfAConfigTableAreTheItems() throws {
        let loop = ForEach(job: "load", items: .configTable(name: "modules", where: nil))
        let items = try loop.resolve(table: Self.modules)
        #expect(items.map { $0["module_name"] } == [.string("sales"), .string("stock"), .string("ops")])
    }

    @Test func whereFiltersTheActiveRows() throws {
        let loop = ForEach(job: "load", items: .configTable(name: "modules", where: "product_code == 'P1'"))
        let items = try loop.resolve(table: Self.modules)
        #expect(items.map { $0["client_code"] } == [.string("c1"), .string("c4")])
    }

    @Test func eachItemGetsItsParameters() throws {
        let loop = ForEach(job: "load", items: .configTable(name: "modules", where: nil),
                           parameters: [.init("client", .string("${item.client_code}")), .init("path", .string("${item.module_path}/${item.module_name}.csv")),
                                        .init("day", .string("${params.day}"))])
        let items = try loop.resolve(table: Self.modules)
        #expect(try items.map { try loop.parameters(for: $0) }.map { $0.map(\.value) } == [
            [.string("c1"), .string("/m/a/sales.csv"), .string("${params.day}")],
            [.string("c2"), .string("/m/b/stock.csv"), .string("${params.day}")],
            [.string("c4"), .string("/m/d/ops.csv"), .string("${params.day}")],
        ])
    }

    @Test func aScalarItemKeepsItsType() throws {
        let loop = ForEach(job: "load", items: .list([.int(7), .string("x")]), parameters: [.init("n", .string("${item}")), .init("label", .string("n=${item}"))])
        #expect(try loop.parameters(for: .int(7)).map(\.value) == [.int(7), .string("n=7")])
    }

    @Test func aMissingFieldOrAnObjectAsTextFails() throws {
        let loop = ForEach(job: "load", items: .list([]), parameters: [.init("c", .string("${item.nope}"))])
        #expect(throws: StageSpec.ItemError("parameter c: the item has no field 'nope'")) { try loop.parameters(for: .object([("a", .int(1))])) }
        let whole = ForEach(job: "load", items: .list([]), parameters: [.init("c", .string("${item}"))])
        #expect(throws: StageSpec.ItemError.self) { try whole.parameters(for: .object([("a", .int(1))])) }
    }

    @Test func applyWouldRefuseUnknownTablesJobsColumnsAndMaxParallelBelowOne() {
        let tables = ["modules": Self.modules]
        let good = ForEach(job: "load", items: .configTable(name: "modules", where: "active and product_code == 'P1'"),
                           parameters: [.init("c", .string("${item.client_code}"))], maxParallel: 2)
        #expect(good.problems(tables: tables, jobs: ["load"]).isEmpty)

        let table = ForEach(job: "load", items: .configTable(name: "module", where: nil))
        #expect(table.problems(tables: tables, jobs: ["load"]).map(\.fix) == ["did you mean 'modules'?"])

        let job = ForEach(job: "lod", items: .list([]))
        #expect(job.problems(tables: tables, jobs: ["load"]).map(\.field) == ["job"])

        let column = ForEach(job: "load", items: .configTable(name: "modules", where: "client == 'c1'"),
                             parameters: [.init("c", .string("${item.clientcode}"))])
        let problems = column.problems(tables: tables, jobs: ["load"])
        #expect(problems.map(\.field) == ["parameters", "items.where"])
        #expect(problems.map(\.fix) == ["did you mean 'client_code'?", "did you mean 'client_code'?"])

        let parallel = ForEach(job: "load", items: .list([]), maxParallel: 0)
        #expect(parallel.problems(tables: tables, jobs: ["load"]).map(\.field) == ["max_parallel"])
    }
}
