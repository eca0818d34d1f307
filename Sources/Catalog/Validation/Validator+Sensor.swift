import Domain

extension Validator {
    /// A sensor's own rules: a pattern that can match a file name, a poll interval of at least
    /// 100 ms, and parameters the job declares, whose `${file.X}` placeholders are known. How its folders meet
    /// each other and the store is checked with the store (`StoreGuard.diagnostics`).
    mutating func checkSensor(_ d: Definition, _ s: SensorSpec) {
        do throws(FileGlob.Problem) {
            _ = try FileGlob(s.glob)
        } catch {
            self.error(d, "pattern", "pattern '\(Diagnostic.excerpt(s.glob))' of sensor '\(d.name)' \(error.description)", fix: error.fix)
        }
        if let p = s.pollInterval, p < SensorSpec.minPollInterval {
            error(d, "poll_interval", "poll_interval of sensor '\(d.name)' is \(formatNumber(p))s, below the least of 100ms",
                  fix: "write 100ms or more (default 5s)")
        }
        let job = spec(JobSpec.self, s.job)
        if let job { checkTypedParameters(d, who: "sensor '\(d.name)'", job: job, jobName: s.job, given: s.parameters) }
        for m in s.parameters {
            if let job, !job.parameters.contains(where: { $0.key == m.key }) {
                let known = job.parameters.map(\.key)
                error(d, "parameters.\(m.key)", "sensor '\(d.name)' passes parameter \(m.key), which job '\(s.job)' does not have",
                      fix: Suggest.closest(to: m.key, in: known).map { "did you mean '\($0)'?" }
                        ?? (known.isEmpty ? "declare it in the job's parameters (with a default)" : "its parameters are \(known.joined(separator: ", "))"))
            }
            for name in SensedFile.unknownPlaceholders(in: m.value) {
                let fix = name.hasPrefix("${file.")
                    ? "close it with '}'"
                    : (Suggest.closest(to: name, in: SensedFile.placeholders).map { "did you mean '${file.\($0)}'? " } ?? "")
                        + "known: " + SensedFile.placeholders.map { "${file.\($0)}" }.joined(separator: ", ")
                let what = name.hasPrefix("${file.") ? "an unclosed '\(Diagnostic.excerpt(name))'" : "unknown placeholder '${file.\(Diagnostic.excerpt(name))}'"
                error(d, "parameters.\(m.key)", "parameter \(m.key) of sensor '\(d.name)' has \(what)", fix: fix)
            }
        }
    }
}
