import Domain
import EventLog

extension Why {
    /// The step of a run a sensor started: the sensor, the file, its size and mtime, from the
    /// `FileArrived` recorded with the run. It is found from the run's request: the sensor's events
    /// of that transaction precede its runs, so the arrival is among the last events of the
    /// sensor's stream as of the request (read backwards in growing chunks: one read in practice).
    func sensorStep(run id: String, requested: RecordedEvent, trigger t: RunTrigger) throws -> WhyStep {
        let by = t.by ?? requested.actor
        // A request whose arrival is not in the log (written by other means): the trigger alone.
        let fallback = WhyStep(kind: "sensor", seq: requested.causation, text: "sensor \(t.sensor ?? by) saw \(t.file ?? "a file")", data: t.value)
        guard let sensor = t.sensor else { return fallback }
        let stream = SensorEvents.stream(sensor: sensor)
        var upTo = try log.streamVersion(stream, asOf: requested.seq)
        var chunk: UInt64 = 16
        while upTo > 0 {
            let from = upTo > chunk ? upTo - chunk + 1 : 1
            for e in try log.read(stream: stream, fromVersion: from, limit: Int(upTo - from + 1)).reversed() where e.type == FileArrived.type {
                let a: FileArrived
                do throws(DecodingFailure) { a = try e.decode(FileArrived.self) } catch { return unreadable(e, error) }
                guard a.run == id else { continue }
                let data = a.payload.setting("mtime", to: .string(Timestamp.rfc3339(micros: a.mtimeMicros)))
                return WhyStep(kind: "sensor", seq: e.seq,
                               text: "sensor \(sensor) v\(a.sensorVersion) saw \(a.file) in \(a.folder) (\(a.size) bytes, modified \(Timestamp.rfc3339(micros: a.mtimeMicros)))",
                               data: data)
            }
            upTo = from - 1
            chunk *= 2
        }
        return fallback
    }
}
