// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Ledgerflow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ledgerflow", targets: ["ledgerflow"]),
        .executable(name: "ledgerflow-bench", targets: ["ledgerflow-bench"]),
        .library(name: "EventLog", targets: ["EventLog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C system libraries. Only the LMDB and Zstd wrappers import these.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Thin Swift wrappers over the C libraries.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),

        // The storage-free domain: Value and its canonical codec, the envelope types (NewEvent,
        // RecordedEvent, StreamAppend, ExpectedVersion), upcasters and the typed events. Links
        // neither LMDB nor Zstd; Catalog, Runs and Models build on it alone.
        .target(name: "Domain"),

        // The append-only event log: append, indexes, chain, subscriptions, checkpoints.
        .target(name: "EventLog", dependencies: [
            "Domain", "LMDB", "Zstd",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Measures a YAML file's nesting and alias expansion with libyaml's event parser (linked
        // from Yams' CYaml) before Yams composes it: a few hundred bytes of nested anchors
        // otherwise expand to gigabytes, and Yams hashes aliased mapping keys in full.
        .target(name: "CYAMLCheck"),

        // Definitions: kinds and their schemas, YAML/JSON loading with locations, validation,
        // expressions, cron, the catalog's events, state and apply decider (pure; no storage).
        .target(name: "Catalog", dependencies: [
            "Domain", "Yams", "CYAMLCheck",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Runs: the run and stage state machines (events, state, deciders, scheduler and
        // job-dependency decisions). Pure; no storage.
        .target(name: "Runs", dependencies: ["Domain", "Catalog"]),

        // Built-in ML, pure numerics (Foundation only): feature engineering, models, metrics, drift.
        .target(name: "ML"),

        // The model registry and automation domain: ML events, models state, trigger and monitor
        // decisions (pure; no storage).
        .target(name: "Models", dependencies: ["Domain", "Catalog"]),

        // Stage executors: etl/storage (CSV, JSON Lines, SQLite through GRDB, folders), script, and
        // the ML stages (features, train, inference, merge).
        .target(name: "Executors", dependencies: [
            "Domain", "EventLog", "Catalog", "ML", "Models",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [
            // The Python module a Spark application imports (docs/spark.md); the engine hands its path to spark-submit.
            .copy("Spark/ledgerflow_spark.py"),
        ]),

        // The projection framework (named pure folds, runner, snapshots, as-of) and the projections.
        .target(name: "Projections", dependencies: ["Domain", "EventLog", "Catalog", "Runs", "Models", "Lineage"]),

        // Lineage: the edges each event adds to the lineage graph, the on-disk lineage table, graph
        // and column-lineage queries, why a run ran (causal chains read from the log).
        .target(name: "Lineage", dependencies: ["Domain", "EventLog", "Catalog", "Runs", "Models", .product(name: "Crypto", package: "swift-crypto")]),

        // The engine: reactors (stage scheduler, job dependencies) and the worker pool, recovery.
        .target(name: "Engine", dependencies: ["Domain", "EventLog", "Catalog", "Runs", "Models", "Executors", "Projections", "Lineage"]),

        // The operations console: the HTTP API (JSON, Server-Sent Events) and the web pages over the
        // same projections and queries as the CLI (Hummingbird is imported here and nowhere else).
        .target(name: "Console", dependencies: [
            "Domain", "EventLog", "Catalog", "Projections", "Runs", "Models", "Lineage", "Engine", "Executors",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),

        // The command-line interface (ArgumentParser is imported here and nowhere else in Sources/).
        .executableTarget(name: "ledgerflow", dependencies: [
            "Domain", "EventLog", "Catalog", "Projections", "Runs", "Models", "Lineage", "Engine", "Executors", "Console",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmarks and the synthetic event generator (run with `make bench`).
        .executableTarget(name: "ledgerflow-bench", dependencies: ["Domain", "EventLog", "LMDB", "Zstd", "Catalog", "Projections", "Runs", "Models", "Lineage", "Engine", "Executors", "ML", "Console"],
                          path: "tools/ledgerflow-bench"),
        // Shared by the test targets only (never a dependency of the targets above): temporary
        // directories and stores, the CLI runner, a manual clock, a seeded generator, deadline waits,
        // test servers (SMTP and webhook sinks, a Spark standalone cluster).
        .target(name: "TestSupport", dependencies: ["Domain", "EventLog", "LMDB", "Executors"]),

        .testTarget(name: "EngineTests", dependencies: ["Domain", "TestSupport", "Engine", "Runs", "Models", "Lineage", "Executors", "Catalog", "EventLog", "Projections", "ML"]),
        .testTarget(name: "MLTests", dependencies: ["ML"]),
        .testTarget(name: "LineageTests", dependencies: ["Domain", "TestSupport", "Lineage", "Catalog", "Projections", "Runs", "Models", "EventLog"]),
        .testTarget(name: "ModelsTests", dependencies: ["Domain", "Models", "Catalog"]),

        .testTarget(name: "DomainTests", dependencies: ["Domain"]),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TestSupport"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["Domain", "EventLog", "LMDB", "TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Domain", "Catalog", "TestSupport"]),
        .testTarget(name: "RunsTests", dependencies: ["Domain", "Runs", "Catalog"]),
        .testTarget(name: "ExecutorsTests", dependencies: ["Domain", "Executors", "Catalog", "EventLog", "TestSupport"]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Domain", "Projections", "Catalog", "EventLog", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Domain", "EventLog", "Executors", "TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Domain", "Console", "Engine", "Runs", "Catalog", "EventLog", "TestSupport"]),
    ]
)

// Package-wide settings, applied in one place (Swift 6 language mode is the default for tools 6.0).
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
