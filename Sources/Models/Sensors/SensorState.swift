import Domain

/// What identifies one arrival of a file besides the sensor and its path: its size and mtime.
/// A file rewritten with another size or mtime is another arrival.
public struct FileKey: Sendable, Hashable, CustomStringConvertible {
    public var size: Int64
    public var mtimeMicros: Int64

    public init(size: Int64, mtimeMicros: Int64) {
        self.size = size
        self.mtimeMicros = mtimeMicros
    }

    public var description: String { "\(size) bytes, mtime \(mtimeMicros) µs" }
}

/// A matching file as a listing saw it.
public struct ListedFile: Sendable, Hashable {
    /// Path relative to the watched folder.
    public var relative: String
    public var size: Int64
    public var mtimeMicros: Int64

    public init(relative: String, size: Int64, mtimeMicros: Int64) {
        self.relative = relative
        self.size = size
        self.mtimeMicros = mtimeMicros
    }

    public var key: FileKey { FileKey(size: size, mtimeMicros: mtimeMicros) }
}

/// One look at a sensor's folder: the files matching its pattern (sorted by relative path), or
/// why the folder could not be listed; and when the look began (the clock's time).
public struct SensorListing: Sendable {
    public var files: [ListedFile]
    /// Why the folder could not be listed (then `files` is empty and means nothing).
    public var error: String?
    /// When the listing began, in microseconds (the engine's clock).
    public var atMicros: Int64
    /// Folder entries looked at (matching or not), for the status.
    public var entries: Int

    public init(files: [ListedFile], error: String? = nil, atMicros: Int64, entries: Int = 0) {
        self.files = files
        self.error = error
        self.atMicros = atMicros
        self.entries = entries
    }
}

/// A file seen with a key not yet counted, waiting for its size and mtime to stay the same for
/// the sensor's `settle` time: the key first seen and when.
public struct Settling: Sendable, Hashable {
    public var key: FileKey
    public var sinceMicros: Int64

    public init(key: FileKey, sinceMicros: Int64) {
        self.key = key
        self.sinceMicros = sinceMicros
    }
}

/// An arrival whose marker has not been dealt with yet (its run has not finished, or its
/// MarkerHandled is not recorded).
public struct PendingMarker: Sendable, Hashable {
    /// The seq of the FileArrived.
    public var arrival: UInt64
    public var file: String
    public var folder: String
    public var key: FileKey
    public var run: String
    public var action: MarkerAction
    public var moveTo: String?

    public init(arrival: UInt64, file: String, folder: String, key: FileKey, run: String, action: MarkerAction, moveTo: String?) {
        self.arrival = arrival
        self.file = file
        self.folder = folder
        self.key = key
        self.run = run
        self.action = action
        self.moveTo = moveTo
    }

    /// The marker's absolute path.
    public var path: String { folder == "/" ? "/" + file : folder + "/" + file }
    /// With `move`: where the marker goes (the target folder + its relative path).
    public var destination: String? { moveTo.map { ($0 == "/" ? "" : $0) + "/" + file } }
}

/// One sensor as its stream (`sensor/<name>`) says, plus what the engine tracks in memory between
/// polls (`settling`). Folded from the sensor's own stream at engine start and after each commit.
public struct SensorState: Sendable {
    /// The stream's version (the expected version of the next append).
    public var streamVersion: UInt64 = 0
    /// The seq of the last event folded.
    public var lastSeq: UInt64 = 0
    /// Relative path → key of its newest arrival, for files that may still be present: a listing
    /// without the file forgets it (`forget(absentFrom:)`), so the map stays the size of the folder.
    public var arrived: [String: FileKey] = [:]
    /// The error while in the error state, and the seq of its SensorFailed.
    public var error: String?
    public var failedSeq: UInt64?
    /// Arrivals with a run whose marker is not dealt with yet, by the seq of their FileArrived.
    public var pending: [UInt64: PendingMarker] = [:]
    /// Arrivals recorded in all, and the newest.
    public var arrivals = 0
    public var lastArrival: (seq: UInt64, file: String, run: String?)?
    /// Files waiting to settle (memory only: after a restart a file settles again from its first
    /// listing by that engine).
    public var settling: [String: Settling] = [:]

    public init() {}

    /// Whether the sensor is in its error state.
    public var isFailing: Bool { error != nil }

    /// Folds one event of the sensor's stream (other types only move the version); fails on an
    /// event of ours that does not decode — the caller must not decide without it.
    public mutating func evolve(_ e: RecordedEvent) throws(DecodingFailure) {
        streamVersion = e.streamVersion
        lastSeq = e.seq
        switch e.type {
        case FileArrived.type:
            let a = try e.decode(FileArrived.self)
            let key = FileKey(size: a.size, mtimeMicros: a.mtimeMicros)
            arrived[a.file] = key
            settling[a.file] = nil
            arrivals += 1
            lastArrival = (e.seq, a.file, a.run)
            if let run = a.run {
                pending[e.seq] = PendingMarker(arrival: e.seq, file: a.file, folder: a.folder, key: key, run: run, action: a.afterRun, moveTo: a.moveTo)
            }
        case MarkerHandled.type:
            pending[try e.decode(MarkerHandled.self).arrival] = nil
        case SensorFailed.type:
            error = try e.decode(SensorFailed.self).error
            failedSeq = e.seq
        case SensorRecovered.type:
            _ = try e.decode(SensorRecovered.self)
            error = nil
            failedSeq = nil
        default:
            break
        }
    }

    /// Forgets the arrived keys of files `listing` does not hold (a listing that failed forgets
    /// nothing): a file that comes back later with the same size and mtime arrives again.
    public mutating func forget(absentFrom listing: SensorListing) {
        guard listing.error == nil, !arrived.isEmpty else { return }
        var present: Set<String> = []
        present.reserveCapacity(listing.files.count)
        for f in listing.files { present.insert(f.relative) }
        if arrived.count <= present.count, arrived.keys.allSatisfy(present.contains) { return }
        arrived = arrived.filter { present.contains($0.key) }
    }
}

/// Every arrival of one sensor with what became of its marker, and the sensor's error state, as
/// its stream says (for `ledgerflow sensors`). Events that do not decode are counted, not folded.
public struct SensorHistory: Sendable {
    /// One arrival.
    public struct Arrival: Sendable {
        public var seq: UInt64
        public var recordedAtMicros: Int64
        public var event: FileArrived
        public var handled: MarkerHandled?
    }

    public var arrivals: [Arrival] = []
    public var error: String?
    /// When the error state began (µs), while in it.
    public var failedAtMicros: Int64?
    public var unreadable = 0

    public init() {}

    public mutating func evolve(_ e: RecordedEvent) {
        do throws(DecodingFailure) {
            switch e.type {
            case FileArrived.type:
                arrivals.append(Arrival(seq: e.seq, recordedAtMicros: e.recordedAtMicros, event: try e.decode(FileArrived.self)))
            case MarkerHandled.type:
                let h = try e.decode(MarkerHandled.self)
                if let i = arrivals.lastIndex(where: { $0.seq == h.arrival }) { arrivals[i].handled = h }
            case SensorFailed.type:
                error = try e.decode(SensorFailed.self).error
                failedAtMicros = e.recordedAtMicros
            case SensorRecovered.type:
                error = nil
                failedAtMicros = nil
            default: break
            }
        } catch {
            unreadable += 1
        }
    }
}
