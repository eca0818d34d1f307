import Foundation
import Testing
@testable import Catalog

@Suite struct SchemaDocsTests {
    /// docs/metadata.md carries the generated reference verbatim, so it cannot drift from what
    /// validation accepts (regenerate with `ledgerflow catalog schema --markdown`).
    @Test func docsHoldTheGeneratedReference() throws {
        let docs = try String(contentsOfFile: fixturePath("docs/metadata.md"), encoding: .utf8)
        #expect(docs.contains(SchemaDocs.markdown()))
        for kind in DefinitionKind.allCases { #expect(docs.contains("### `\(kind.name)`")) }
    }
}
