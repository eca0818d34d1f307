import Domain

/// The fields a stage's `when:` condition and the calls in its settings' `${…}` read:
/// `params.NAME`, `run.FACT`, `stages.S.status` and `stages.S.outputs.FIELD…`. One lookup for the
/// scheduler (over a run's state) and the executors (over an attempt's context); each says which
/// run facts and stage facts it has.
public enum StageFields {
    /// The value of field `name` (nil: unknown, or absent): `params` by parameter name, `run` by
    /// fact (`id`, `job`, …), `status` and `outputs` by stage.
    public static func value(_ name: String, params: [String: Value], run: [String: Value],
                             status: (String) -> Value? = { _ in nil }, outputs: (String) -> Value?) -> Value? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("params", 2): return params[parts[1]]
        case ("run", 2): return run[parts[1]]
        case ("stages", 3) where parts[2] == "status": return status(parts[1])
        case ("stages", _) where parts.count >= 4 && parts[2] == "outputs":
            var v = outputs(parts[1])
            for key in parts[3...] { v = v?[key] }
            return v
        default: return nil
        }
    }
}
