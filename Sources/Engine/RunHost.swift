import Domain
import EventLog
import Foundation
import Runs

/// Sees one run through to its end from a command such as `ledgerflow run`: while the store's
/// engine lock is free it hosts an engine in this process (on its own thread) until the run has
/// finished and the engine is idle, so the runs that depend on it are requested and run too;
/// while another process holds the lock it follows the log as that engine appends, and takes
/// over when that engine goes away.
///
/// Threading: `follow` runs on the caller's thread and calls `onEvent` and `onIdle` there; the
/// hosted engine runs on a thread of its own. `interrupt()` may be called from any thread.
public final class RunHost: @unchecked Sendable {
    // @unchecked Sendable: everything but `interruptRequested` and `engineError` is touched only by
    // the thread in `follow`; those two are behind `cond`.

    public struct Options: Sendable {
        /// The hosted engine's options; it decides no schedule ticks (they are `ledgerflow work`'s).
        public var engine: Engine.Options = { var o = Engine.Options(); o.scheduleTicks = .none; return o }()
        /// How long to wait for new events of the run before looking again (appends by this
        /// process's engine wake the wait at once).
        public var pollInterval = 0.02
        public init() {}
    }

    /// How `follow` ended.
    public enum Outcome: Sendable, Hashable {
        /// The run finished with this status.
        case finished(RunStatus)
        /// `interrupt()` was called before the run finished; a hosted engine was stopped.
        case interrupted
    }

    public let log: EventLog
    public let store: String
    public let run: String
    public let options: Options
    /// Whether this host ran an engine (now or earlier in `follow`).
    public private(set) var hostedEngine = false

    private let cond = NSCondition()
    private var interruptRequested = false
    private var woken = false
    private var engineError: (any Error)?
    private var engine: Engine?
    private var engineDone: DispatchSemaphore?
    private var lock: EngineLock?

    public init(log: EventLog, store: String, run: String, options: Options = Options()) {
        self.log = log
        self.store = store
        self.run = run
        self.options = options
    }

    /// Asks `follow` to stop: a hosted engine stops (running attempts get its grace period).
    public func interrupt() {
        cond.lock()
        interruptRequested = true
        woken = true
        cond.signal()
        cond.unlock()
    }

    /// Follows the run: every event of its stream, in order, goes to `onEvent`; `onIdle` is
    /// called after each wait in which nothing arrived. Returns once the run has finished (and a
    /// hosted engine is idle) or `interrupt()` was called; throws when the hosted engine failed.
    public func follow(onEvent: (RecordedEvent) -> Void, onIdle: () -> Void = {}) throws -> Outcome {
        let observer = log.addAppendObserver { [weak self] _ in self?.wake() }
        defer {
            log.removeAppendObserver(observer)
            lock = nil // another engine may take the store once ours has stopped
        }
        var version: UInt64 = 0
        var finished: RunStatus?
        while true {
            if engine == nil { try hostIfFree() }
            var saw = false
            for e in try log.read(stream: RunEvents.stream(run: run), fromVersion: version + 1) {
                version = e.streamVersion
                saw = true
                onEvent(e)
                switch e.type {
                case RunSucceeded.type: finished = .succeeded
                case RunFailed.type: finished = .failed
                case RunCancelled.type: finished = .cancelled
                default: break
                }
            }
            if let error = cond.withLock({ engineError }) { throw EngineError("the engine stopped: \(error)") }
            if let finished {
                engineDone?.wait() // the hosted engine returns once idle: dependents were requested and ran
                if let error = cond.withLock({ engineError }) { throw EngineError("the engine stopped: \(error)") }
                return .finished(finished)
            }
            if cond.withLock({ interruptRequested }) {
                engine?.stop()
                engineDone?.wait()
                return .interrupted
            }
            if !saw {
                onIdle()
                cond.lock()
                if !woken { _ = cond.wait(until: Date().addingTimeInterval(options.pollInterval)) }
                woken = false
                cond.unlock()
            }
        }
    }

    private func wake() {
        cond.lock()
        woken = true
        cond.signal()
        cond.unlock()
    }

    /// Starts an engine on its own thread when the store's engine lock is free.
    private func hostIfFree() throws {
        guard let l = try EngineLock.acquire(store: store) else { return }
        lock = l
        let e = Engine(log: log, store: store, options: options.engine)
        let done = DispatchSemaphore(value: 0)
        let id = run
        Thread.detachNewThread { [self] in
            do {
                try e.run { $0.hasFinished(id) }
            } catch {
                cond.withLock { engineError = error }
                wake()
            }
            done.signal()
        }
        engine = e
        engineDone = done
        hostedEngine = true
    }
}
