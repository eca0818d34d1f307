import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs

/// The file-sensor reactor's state: loop-thread state per sensor, and the mailbox the listings
/// (made off the loop thread) are posted into.
final class SensorReactor: @unchecked Sendable {
    // @unchecked Sendable: `sensors`, `catalogSeq`, `statusError` and `firstListings` are touched
    // by the loop thread only; listing threads touch `mailbox` alone, which is `Locked`.

    /// One sensor in force.
    struct Sensor {
        var name: String
        /// Definition version.
        var version: UInt64
        var spec: SensorSpec
        /// The pattern, or why it does not parse (the sensor then does not poll).
        var glob: FileGlob?
        /// The watched folder and the move target, absolute and canonical.
        var folder: String
        var moveTo: String?
        /// Why the folder may not be listed (it meets the store), checked again at run time.
        var refused: String?
        var state = SensorState()
        /// An event of its stream that does not decode: the sensor stops (decisions need it).
        var unreadable: String?
        /// The newest listing not yet decided without events.
        var listing: SensorListing?
        var listingInFlight = false
        var nextPollMicros: Int64 = 0
        /// The newest listing's facts, for the status file.
        var lastPoll: (atMicros: Int64, tookMicros: Int64, entries: Int, files: Int)?
        /// Marker actions done on disk, not yet recorded (a step that failed to commit records them
        /// again without acting twice).
        var done: [UInt64: SensorDecider.MarkerResult] = [:]
    }

    var sensors: [String: Sensor] = [:]
    /// The states of the engine's `engine-streams` snapshot read at load: where a sensor not held
    /// yet starts its stream from.
    var seeds: [String: SensorState] = [:]
    /// The catalog version the sensors were taken from.
    var catalogSeq: UInt64 = .max
    /// Listings done, by sensor (the newest wins), with when they ended and the sensor version
    /// they were made for (a listing made for an older version is dropped).
    let mailbox = Locked<[String: (listing: SensorListing, endedMicros: Int64, version: UInt64)]>([:])
    var statusError: String?
    /// Listings fully decided (their events committed, or none needed): what tests wait for
    /// after moving a manual clock past a poll.
    let listingsDone = Locked<Int>(0)
    /// Whether the engine's first step has run (only it waits for listings).
    var started = false

    /// How long the engine's first step waits for the first listing of each sensor (so that
    /// `work --once` acts on what is there); a slower one is used when it comes.
    static let firstListingWait = 10.0
}

/// The file-sensor reactor: polls each sensor's folder at its interval (off the loop thread) and,
/// in the step's one append, records each new arrival (`FileArrived`, keyed by sensor, relative
/// path, size and mtime) with the run it requests, the sensor's error-state changes, and what
/// became of each marker once its run finished (`MarkerHandled`). Every sensor event is appended
/// at the expected version of the sensor's stream, in the same transaction as the runs: a kill
/// before the commit loses both, after it keeps both, and the next decision sees them.
extension Engine {
    /// The phase (called once per step): take finished listings, decide on them and on due
    /// markers, start the listings that are due.
    func senseFiles(into batch: inout Batch, now: Int64) throws {
        let r = sensorReactor
        // Only the engine's first step waits for listings (for the sensors in force at its start).
        let first = !r.started
        r.started = true
        try syncSensors()
        if r.sensors.isEmpty { return }
        // A stopping engine starts no listing; it still records what it has decided.
        if !stopping { startDueListings(now: now, wait: first) }
        takeListings()
        for name in r.sensors.keys.sorted() {
            guard var s = r.sensors[name], s.unreadable == nil else { continue }
            var due = false
            for p in s.state.pending.values where try finishedStatus(ofRun: p.run) != nil { due = true; break }
            guard s.listing != nil || due else { continue }
            do {
                try catchUp(&s)
            } catch let failure as DecodingFailure {
                s.unreadable = "\(failure)"
                options.report("sensor \(name): stopped: an event of its stream cannot be read (\(failure)); it needs fixing before the sensor acts again", .error, component: "sensors")
                r.sensors[name] = s
                continue
            } catch {
                throw StepFailure("reading the stream of sensor \(name)", error)
            }
            do { try decide(&s, into: &batch) } catch { throw StepFailure("reading the runs sensor \(name)'s markers wait for", error) }
            r.sensors[name] = s
        }
    }

    /// Seconds until the next sensor poll is due (the loop's wait), nil when none is.
    func nextSensorPoll(now: Int64) -> Double? {
        let next = sensorReactor.sensors.values.filter { !$0.listingInFlight && $0.unreadable == nil }.map(\.nextPollMicros).min()
        return next.map { max(0.001, Double($0 - now) / 1e6) }
    }

    /// Brings the sensors in line with the catalog (when it changed): new ones load their stream,
    /// changed ones take their new spec (keeping their state), removed ones stop.
    func syncSensors() throws {
        let r = sensorReactor
        guard r.catalogSeq != catalog.lastChangeSeq else { return }
        r.catalogSeq = catalog.lastChangeSeq
        var next: [String: SensorReactor.Sensor] = [:]
        let storeC = StoreGuard.canonical(store, relativeTo: "/")
        for entry in catalog.entries.values where entry.key.kind == .sensor {
            let name = entry.key.name
            let spec: SensorSpec
            do throws(DecodingFailure) {
                spec = try entry.spec(as: SensorSpec.self)
            } catch {
                options.report("sensor \(name) v\(entry.version): its spec cannot be read (\(error)); it does not poll", .error, component: "sensors")
                continue
            }
            var s = r.sensors[name] ?? SensorReactor.Sensor(name: name, version: entry.version, spec: spec, folder: "")
            if r.sensors[name] == nil {
                if let seed = r.seeds.removeValue(forKey: name) { s.state = seed }
                do {
                    try catchUp(&s)
                } catch let failure as DecodingFailure {
                    s.unreadable = "\(failure)"
                    options.report("sensor \(name): stopped: an event of its stream cannot be read (\(failure)); it needs fixing before the sensor acts again", .error, component: "sensors")
                } catch {
                    throw StepFailure("reading the stream of sensor \(name)", error)
                }
            }
            let folder = StoreGuard.canonical(spec.path, relativeTo: root)
            if s.version != entry.version || s.folder != folder || s.glob == nil {
                // A new version: a fresh look (what settles, settles again).
                s.listing = nil
                s.state.settling = [:]
                s.nextPollMicros = 0
            }
            s.version = entry.version
            s.spec = spec
            s.folder = folder
            s.glob = try? FileGlob(spec.glob)
            if case .move(let to) = spec.afterRunInForce { s.moveTo = StoreGuard.canonical(to, relativeTo: root) } else { s.moveTo = nil }
            s.refused = nil
            if let c = StoreGuard.conflict(folder, store: storeC), c != .holdsStore || spec.isRecursive {
                s.refused = "folder \(folder) \(c.phrase); \(StoreGuard.sensorFix)"
            }
            next[name] = s
        }
        r.sensors = next
        writeSensorStatus()
    }

    /// Folds the sensor's stream from where its state stands.
    func catchUp(_ s: inout SensorReactor.Sensor) throws {
        let stream = SensorEvents.stream(sensor: s.name)
        while true {
            let events = try log.read(stream: stream, fromVersion: s.state.streamVersion + 1, limit: 4096)
            if events.isEmpty { return }
            for e in events { try s.state.evolve(e) }
        }
    }

    /// Starts a listing of every sensor whose poll is due (one at a time per sensor). The first
    /// ones after the engine started are awaited (up to `firstListingWait`), so that the first
    /// step acts on what is in the folders.
    func startDueListings(now: Int64, wait: Bool) {
        let r = sensorReactor
        let group = DispatchGroup()
        let clock = self.clock
        let skip: Set<String> = [StoreGuard.canonical(store, relativeTo: "/")]
        for name in r.sensors.keys.sorted() {
            guard var s = r.sensors[name], s.unreadable == nil, !s.listingInFlight, now >= s.nextPollMicros else { continue }
            s.nextPollMicros = now + Int64(s.spec.pollSeconds * 1e6)
            let folder = s.folder, recursive = s.spec.isRecursive, version = s.version
            let refusal = s.refused ?? (s.glob == nil ? "pattern '\(s.spec.glob)' does not parse" : nil)
            guard let glob = s.glob, refusal == nil else {
                // Nothing to list: the refusal is the listing's error (the sensor's error state).
                r.mailbox.withLock { $0[name] = (SensorListing(files: [], error: refusal, atMicros: now), now, s.version) }
                r.sensors[name] = s
                continue
            }
            s.listingInFlight = true
            r.sensors[name] = s
            group.enter()
            DispatchQueue.global(qos: .utility).async { [weak self, mailbox = r.mailbox] in
                let at = clock.nowMicros()
                let listing = FolderListing.list(folder: folder, glob: glob, recursive: recursive, skip: skip, atMicros: at)
                mailbox.withLock { $0[name] = (listing, clock.nowMicros(), version) }
                group.leave()
                self?.wake()
            }
        }
        if wait, group.wait(timeout: .now() + SensorReactor.firstListingWait) == .timedOut {
            options.report("sensors: a first listing takes longer than \(Int(SensorReactor.firstListingWait)) s; carrying on, it is used when it comes", .warning, component: "sensors")
        }
    }

    /// Moves the finished listings from the mailbox to their sensors.
    func takeListings() {
        let r = sensorReactor
        let finished = r.mailbox.withLock { m in
            let out = m
            m.removeAll()
            return out
        }
        guard !finished.isEmpty else { return }
        for (name, done) in finished {
            guard var s = r.sensors[name] else { continue }
            s.listingInFlight = false
            guard done.version == s.version else {
                // Made for a version of the sensor that has since changed (its folder or pattern
                // may differ): look again now.
                s.nextPollMicros = 0
                r.sensors[name] = s
                continue
            }
            s.listing = done.listing
            s.lastPoll = (done.listing.atMicros, max(0, done.endedMicros - done.listing.atMicros), done.listing.entries, done.listing.files.count)
            r.sensors[name] = s
        }
        writeSensorStatus()
    }

    /// Decides for one sensor whose state is caught up: its listing (arrivals, error state) and
    /// its due markers, all in one append to its stream at the version it was seen at.
    func decide(_ s: inout SensorReactor.Sensor, into batch: inout Batch) throws {
        let stream = SensorEvents.stream(sensor: s.name)
        var events: [NewEvent] = []
        var arrivals: [ListedFile] = []
        if let listing = s.listing {
            let d = SensorDecider.decide(s.state, listing, settleMicros: Int64(s.spec.settleSeconds * 1e6))
            s.state.settling = d.settling
            s.state.forget(absentFrom: listing)
            if d.hasEvents {
                if let error = d.failed {
                    events.append(SensorFailed(sensor: s.name, sensorVersion: s.version, folder: s.folder, error: error).event())
                    options.report("sensor \(s.name): error: \(error); retrying at every poll", .warning, component: "sensors")
                }
                if let failed = d.recovered {
                    events.append(SensorRecovered(sensor: s.name, sensorVersion: s.version, folder: s.folder, failed: failed).event())
                    options.report("sensor \(s.name): recovered: \(s.folder) lists again", .info, component: "sensors")
                }
                arrivals = d.arrivals
            } else {
                // Nothing (more) to record: this listing is done with.
                s.listing = nil
                sensorReactor.listingsDone.withLock { $0 += 1 }
            }
        }
        // Markers whose run has finished.
        var handled: Set<UInt64> = []
        var finished: [String: String] = [:]
        for p in s.state.pending.values { if let st = try finishedStatus(ofRun: p.run) { finished[p.run] = st.rawValue } }
        for (p, status) in SensorDecider.dueMarkers(s.state, status: { finished[$0] }) {
            let result = s.done[p.arrival] ?? handleMarker(p, sensor: s.name)
            s.done[p.arrival] = result
            handled.insert(p.arrival)
            events.append(SensorDecider.handled(p, sensor: s.name, runStatus: status, result).event())
        }
        s.done = s.done.filter { handled.contains($0.key) }
        guard !events.isEmpty || !arrivals.isEmpty else { return }
        // The stream goes first in the append, before the runs its arrivals request (`why` relies
        // on it to find an arrival from its run).
        batch.touch(stream, expected: .exact(s.state.streamVersion))
        for f in arrivals {
            let file = SensedFile(watched: s.folder, relative: f.relative)
            var trigger = RunTrigger(.sensor, by: "sensor:\(s.name)")
            trigger.sensor = s.name
            trigger.sensorVersion = s.version
            trigger.file = f.relative
            var arrived = FileArrived(sensor: s.name, sensorVersion: s.version, file: f.relative, folder: s.folder, size: f.size,
                                      mtimeMicros: f.mtimeMicros, run: nil, afterRun: s.spec.afterRunInForce.action, moveTo: s.moveTo)
            switch requestRun(job: s.spec.job, parameters: SensorDecider.parameters(s.spec.parameters, file: file), trigger: trigger,
                              causation: nil, correlation: nil, batch: &batch) {
            case .success(let id):
                arrived.run = id
                options.report("sensor \(s.name): \(f.relative) arrived (\(f.size) bytes); run \(id) of job \(s.spec.job) requested", .info, component: "sensors", run: id)
            case .failure(let why):
                arrived.error = why.description
                options.report("sensor \(s.name): \(f.relative) arrived, but no run started: \(why)", .warning, component: "sensors")
            }
            events.append(arrived.event())
        }
        batch.add(stream, events, expected: .exact(s.state.streamVersion))
    }

    /// Does a due marker's `after_run` on disk (or finds it done) and says what became of it.
    func handleMarker(_ p: PendingMarker, sensor: String) -> SensorDecider.MarkerResult {
        let plan = SensorDecider.plan(p, current: FolderListing.key(at: p.path), destinationExists: p.destination.map(FolderListing.exists) ?? false)
        let result: SensorDecider.MarkerResult
        switch plan {
        case .record(let r):
            result = r
        case .delete:
            result = FolderListing.delete(p.path).map { SensorDecider.MarkerResult(outcome: .failed, error: $0) }
                ?? SensorDecider.MarkerResult(outcome: .deleted)
        case .move(let to):
            result = FolderListing.move(p.path, to: to).map { SensorDecider.MarkerResult(outcome: .failed, error: $0) }
                ?? SensorDecider.MarkerResult(outcome: .moved, to: to)
        }
        if result.outcome == .failed {
            options.report("sensor \(sensor): \(p.file) (run \(p.run)): after_run \(p.action.rawValue) failed: \(result.error ?? "")", .warning, component: "sensors", run: p.run)
        }
        return result
    }

    /// The status file (`<store>/status/sensors.json`): each sensor's last poll, what it saw, its
    /// error and its next poll, written whole to a temporary file and renamed over the old one.
    /// Telemetry for people and `health`, not a source of truth (the log is).
    func writeSensorStatus() {
        let r = sensorReactor
        let now = clock.nowMicros()
        var items: [Value] = []
        for name in r.sensors.keys.sorted() {
            guard let s = r.sensors[name] else { continue }
            var m: [(String, Value)] = [("name", .string(name)), ("version", .int(Int64(s.version))), ("folder", .string(s.folder)),
                                        ("pattern", .string(s.spec.glob)), ("recursive", .bool(s.spec.isRecursive)), ("job", .string(s.spec.job)),
                                        ("arrivals", .int(Int64(s.state.arrivals))), ("pending_after_run", .int(Int64(s.state.pending.count))),
                                        ("settling", .int(Int64(s.state.settling.count)))]
            let error = s.unreadable.map { "an event of its stream cannot be read: \($0)" } ?? s.listing?.error ?? s.state.error
            m.append(("state", .string(error != nil ? "error" : s.lastPoll == nil ? "waiting" : "ok")))
            if let error { m.append(("error", .string(error))) }
            if let p = s.lastPoll {
                m += [("last_poll", .string(Timestamp.rfc3339(micros: p.atMicros))), ("last_poll_us", .int(p.atMicros)),
                      ("last_poll_ms", .int(p.tookMicros / 1000)), ("entries", .int(Int64(p.entries))), ("files_seen", .int(Int64(p.files)))]
            }
            if s.unreadable == nil {
                m += [("next_poll", .string(Timestamp.rfc3339(micros: s.nextPollMicros))), ("next_poll_us", .int(s.nextPollMicros))]
            }
            items.append(.object(m))
        }
        let doc = Value.object([("written_at", .string(Timestamp.rfc3339(micros: now))), ("engine", .string(engineID)), ("sensors", .array(items))])
        let path = StatusFile.path(store: store, name: "sensors")
        do {
            try StatusFile.write(doc, store: store, name: "sensors")
            r.statusError = nil
        } catch {
            let why = "\(error)"
            if r.statusError != why { options.report("sensors: could not write \(path): \(why) (the status file is telemetry; the sensors go on)", .warning, component: "sensors") }
            r.statusError = why
        }
    }
}
