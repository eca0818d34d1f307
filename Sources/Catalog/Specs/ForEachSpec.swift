import Domain

extension StageSpec {
    /// for_each (issue 18, loops; Azure Data Factory's ForEach + ExecutePipeline): run job `job`
    /// once per item of `items`, with `${item.FIELD}` (`${item}` for a scalar item) replaced in
    /// `parameters`, at most `maxParallel` child runs at once.
    ///
    /// The engine resolves the items when an attempt starts (recorded in its `StageStarted`) and
    /// requests each item's child run in the same append as the `StageItemStarted` naming it.
    public struct ForEach: Sendable, Hashable {
        /// Where the items come from.
        public enum Items: Sendable, Hashable {
            /// The active rows of a `config_table` definition, filtered by `where` (an
            /// `Expression` over the row's columns).
            case configTable(name: String, where: String?)
            /// A literal list of values or objects.
            case list([Value])
            /// The rows of a source definition (an sqlite `query` is ADF's Lookup), of an output's
            /// newest version, or of version N of a dataset (`NAME@N`), filtered by `where`.
            case source(name: String, where: String?)

            /// The `where` condition, if any.
            public var condition: String? {
                switch self {
                case .configTable(_, let w), .source(_, let w): return w
                case .list: return nil
                }
            }
        }

        /// The job each item runs as a child run (nil with an inline `stage`).
        public var job: String?
        /// Or: the inline stage each item runs as the one stage of its run, as written (with
        /// `name` set to the for_each stage's when absent).
        public var stage: Value?
        /// Where the items come from.
        public var items: Items
        /// Parameters passed to each child, as written (`${item.FIELD}`, `${item}`).
        public var parameters: [Value.Member]
        /// Child runs at once, at most (default 1; ADF's batchCount).
        public var maxParallel: Int
        /// false (default): after a failure no new item starts; true: every item runs.
        public var continueOnError: Bool
        /// The team told when an item's child run fails, as written (`team-${item.product_code}`).
        public var itemOwner: String?

        /// The stage type.
        public static let stageType = "for_each"

        /// Items one attempt takes, at most (ADF's ForEach takes 100,000; a Lookup returns 5,000 rows).
        public static let maxItems = 5_000

        /// A value with these fields.
        public init(job: String?, items: Items, parameters: [Value.Member] = [], maxParallel: Int = 1, continueOnError: Bool = false,
                    itemOwner: String? = nil, stage: Value? = nil) {
            self.job = job
            self.stage = stage
            self.items = items
            self.parameters = parameters
            self.maxParallel = maxParallel
            self.continueOnError = continueOnError
            self.itemOwner = itemOwner
        }

        /// Reads a for_each stage's own fields (`job`, `items`, `parameters`, `max_parallel`,
        /// `continue_on_error`); `items` is `{config_table: NAME, where: EXPR}` or `{list: [...]}`.
        public init(_ spec: Value) throws(DecodingFailure) {
            try self.init(try Fields("stage spec", spec))
        }

        init(_ f: Fields) throws(DecodingFailure) {
            let source = try f.object("items")
            if let table = try source.string(opt: "config_table") {
                items = .configTable(name: table, where: try source.string(opt: "where"))
            } else if let name = try source.string(opt: "source") {
                items = .source(name: name, where: try source.string(opt: "where"))
            } else if let list = try source.array(opt: "list") {
                items = .list(list)
            } else {
                throw f.failure("items", expected: "{config_table: NAME, where: EXPRESSION}, {source: NAME, where: EXPRESSION} or {list: [...]}", found: f.value("items"))
            }
            job = try f.string(opt: "job")
            if let inline = f.value("stage") {
                guard var members = inline.objectMembers else { throw f.failure("stage", expected: "an inline stage {type: …}", found: inline) }
                if !members.contains(where: { $0.key == "name" }), let name = try f.string(opt: "name") { members.insert(Value.Member("name", .string(name)), at: 0) }
                stage = .members(members)
            } else {
                stage = nil
            }
            parameters = try f.mapping(opt: "parameters")
            maxParallel = Int(try f.int(opt: "max_parallel") ?? 1)
            continueOnError = try f.bool(opt: "continue_on_error") ?? false
            itemOwner = try f.string(opt: "item_owner")
        }

        /// The items: a list as written; a config table's active rows (`active` absent counts as
        /// active) that `where` holds for, each an object of its columns. Nil table: no items.
        /// A source's items are its `rows` (read by the caller) that `where` holds for.
        public func resolve(table: ConfigTableSpec?, rows: [Value] = []) throws(ExpressionError) -> [Value] {
            switch items {
            case .list(let values):
                return values
            case .configTable:
                return try filter((table?.rows ?? []).filter { $0.active ?? true }.map(\.value))
            case .source:
                return try filter(rows)
            }
        }

        /// The rows `where` holds for (all rows without one).
        public func filter(_ rows: [Value]) throws(ExpressionError) -> [Value] {
            guard let condition = items.condition else { return rows }
            let filter = try Expression.parse(condition)
            return rows.filter { row in filter.evaluate { row[$0] } == .bool(true) }
        }

        /// The inline stage for one item: `${item.FIELD}` and `${item}` replaced (nil without one).
        public func stage(for item: Value) throws(ItemError) -> Value? {
            try stage.map { (v) throws(ItemError) in try ForEach.substitute(v, item: item, parameter: "stage") }
        }

        /// The team told when `item`'s child run fails (`item_owner` with the item's fields), nil
        /// without one.
        public func owner(for item: Value) throws(ItemError) -> String? {
            guard let itemOwner else { return nil }
            guard case .string(let team) = try ForEach.substitute(.string(itemOwner), item: item, parameter: "item_owner") else { return nil }
            return team
        }

        /// The fields `parameters` read from the item (`${item.FIELD}`), in first-use order;
        /// `${item}` reads none.
        public var itemFields: [String] {
            var out: [String] = []
            for m in parameters { ForEach.collect(m.value, into: &out) }
            if let itemOwner { ForEach.collect(.string(itemOwner), into: &out) }
            if let stage { ForEach.collect(stage, into: &out) }
            return out
        }

        private static func collect(_ value: Value, into out: inout [String]) {
            switch value {
            case .string(let text):
                for r in references(text) { if let f = r.field, !out.contains(f) { out.append(f) } }
            case .array(let items): for v in items { collect(v, into: &out) }
            case .members(let members): for m in members { collect(m.value, into: &out) }
            default: break
            }
        }

        /// The parameters for one item: `${item.FIELD}` and `${item}` replaced (a text that is one
        /// such placeholder keeps the value's type), other placeholders left for the run. A field
        /// the item does not have, or `${item}` of an object, is a failure naming it.
        public func parameters(for item: Value) throws(ItemError) -> [Value.Member] {
            var out: [Value.Member] = []
            for m in parameters { out.append(Value.Member(m.key, try ForEach.substitute(m.value, item: item, parameter: m.key))) }
            return out
        }

        static func substitute(_ value: Value, item: Value, parameter: String) throws(ItemError) -> Value {
            switch value {
            case .string(let text):
                let refs = references(text)
                if refs.isEmpty { return value }
                if refs.count == 1, refs[0].range == text.startIndex..<text.endIndex {
                    return try lookup(refs[0].field, in: item, parameter: parameter)
                }
                var rendered = ""
                var at = text.startIndex
                for r in refs {
                    rendered += text[at..<r.range.lowerBound]
                    rendered += try ForEach.text(of: lookup(r.field, in: item, parameter: parameter))
                    at = r.range.upperBound
                }
                return .string(rendered + text[at...])
            case .array(let items):
                var out: [Value] = []
                for v in items { out.append(try substitute(v, item: item, parameter: parameter)) }
                return .array(out)
            case .members(let members):
                var out: [Value.Member] = []
                for m in members { out.append(Value.Member(m.key, try substitute(m.value, item: item, parameter: parameter))) }
                return .members(out)
            default:
                return value
            }
        }

        private static func lookup(_ field: String?, in item: Value, parameter: String) throws(ItemError) -> Value {
            guard let field else {
                if case .members = item { throw ItemError("parameter \(parameter): ${item} is an object; name one of its fields (${item.FIELD})") }
                return item
            }
            guard let v = item[field], v != .null else { throw ItemError("parameter \(parameter): the item has no field '\(field)'") }
            return v
        }

        private static func text(of value: Value) -> String {
            switch value {
            case .string(let s): return s
            case .int(let i): return String(i)
            case .double(let d): return String(d)
            case .bool(let b): return String(b)
            case .null: return ""
            case .array, .members: return Fields.describe(value)
            }
        }

        /// `${item}` (field nil) and `${item.FIELD}` placeholders of `text`, in order.
        static func references(_ text: String) -> [(range: Range<String.Index>, field: String?)] {
            var out: [(Range<String.Index>, String?)] = []
            var search = text.startIndex
            while let open = text[search...].range(of: "${item") {
                let after = open.upperBound
                if after < text.endIndex, text[after] == "}" {
                    out.append((open.lowerBound..<text.index(after: after), nil))
                    search = text.index(after: after)
                } else if after < text.endIndex, text[after] == ".", let close = text[after...].firstIndex(of: "}") {
                    out.append((open.lowerBound..<text.index(after: close), String(text[text.index(after: after)..<close])))
                    search = text.index(after: close)
                } else {
                    search = after
                }
            }
            return out
        }

        /// What apply would refuse, one line each with the field it is at: an unknown config
        /// table or child job (with "did you mean"), `${item.X}` or a `where` over a column the
        /// table does not have, a `where` that does not parse, `max_parallel` below 1.
        /// With `teams`, also an `item_owner` that names no team for some row of the config table.
        public func problems(tables: [String: ConfigTableSpec], jobs: Set<String>, teams: Set<String>? = nil) -> [ItemProblem] {
            var out: [ItemProblem] = []
            if maxParallel < 1 {
                out.append(ItemProblem(field: "max_parallel", message: "max_parallel is \(maxParallel)", fix: "give 1 or more (1 runs the items one after another)"))
            }
            if job == nil && stage == nil || job != nil && stage != nil {
                out.append(ItemProblem(field: "stage", message: job == nil ? "names neither a job nor an inline stage" : "names both a job and an inline stage",
                                       fix: "give `job: NAME` (a child job per item) or `stage: {type: …}` (an inline stage per item), one of them"))
            }
            if let job, !jobs.contains(job) {
                out.append(ItemProblem(field: "job", message: "job '\(job)' does not exist",
                                       fix: Suggest.closest(to: job, in: jobs.sorted()).map { "did you mean '\($0)'?" } ?? "define it (kind: job, name: \(job)) or fix the name"))
            }
            if case .source(_, let condition?) = items {
                do throws(ExpressionError) { _ = try Expression.parse(condition) } catch {
                    out.append(ItemProblem(field: "items.where", message: "where '\(condition)' does not read: \(error)", fix: "write a condition over the rows' columns, e.g. region == 'EU'"))
                }
            }
            guard case .configTable(let name, let condition) = items else { return out }
            guard tables[name] != nil else {
                out.append(ItemProblem(field: "items.config_table", message: "config table '\(name)' does not exist",
                                       fix: Suggest.closest(to: name, in: tables.keys.sorted()).map { "did you mean '\($0)'?" } ?? "define it (kind: config_table, name: \(name)) or fix the name"))
                return out
            }
            if let itemOwner, let teams {
                for row in (try? resolve(table: tables[name])) ?? [] {
                    guard let team = try? owner(for: row), !teams.contains(team) else { continue }
                    out.append(ItemProblem(field: "item_owner", message: "item_owner '\(itemOwner)' names team '\(team)' for the row \(Fields.describe(row)), which does not exist",
                                           fix: "define it (kind: team, name: \(team)) or change item_owner"))
                    break
                }
            }
            let columns = ConfigTableSpec.Row.columns
            func unknown(_ field: String, at: String, _ what: String) {
                out.append(ItemProblem(field: at, message: "\(what) '\(field)' is not a column of config table '\(name)'",
                                       fix: Suggest.closest(to: field, in: columns).map { "did you mean '\($0)'?" } ?? "use one of: \(columns.joined(separator: ", "))"))
            }
            for f in itemFields where !columns.contains(f) { unknown(f, at: "parameters", "${item.\(f)}:") }
            if let condition {
                do throws(ExpressionError) {
                    for f in try Expression.parse(condition).fields where !columns.contains(f) { unknown(f, at: "items.where", "where reads") }
                } catch {
                    out.append(ItemProblem(field: "items.where", message: "where '\(condition)' does not read: \(error)", fix: "write a condition over the table's columns, e.g. product_code == 'P1'"))
                }
            }
            return out
        }
    }

    /// An item's parameter that cannot be given.
    public struct ItemError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// One thing apply would refuse in a for_each stage: its field, what, and what to do.
    public struct ItemProblem: Sendable, Hashable {
        public var field: String
        public var message: String
        public var fix: String
    }
}

extension ConfigTableSpec.Row {
    /// The columns of a row, as the spec writes them.
    public static let columns = ["module_path", "module_name", "submodule", "client_code", "active", "product_code"]

    /// The row as an object of its columns (absent `submodule` is null, absent `active` true).
    public var value: Value {
        .object([("module_path", .string(modulePath)), ("module_name", .string(moduleName)), ("submodule", submodule.map(Value.string) ?? .null),
                 ("client_code", .string(clientCode)), ("active", .bool(active ?? true)), ("product_code", .string(productCode))])
    }
}
