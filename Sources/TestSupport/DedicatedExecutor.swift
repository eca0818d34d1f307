import Foundation

/// A task executor with a thread of its own. The shared concurrency pool has one thread per core
/// (two here) and synchronous tests hold those threads while they wait on processes; an async
/// test whose tasks prefer this executor resumes on its own thread instead, so its waits measure
/// its own progress, not the other tests' (see `withDedicatedExecutor`).
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
public final class DedicatedExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` is only touched while `condition` is locked; the thread owns the rest.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    /// Starts the executor's thread. The thread (and so the executor, which it keeps alive) lasts
    /// as long as the process: a task that still prefers this executor after its test ended must
    /// never find it gone.
    public init(name: String = "test-executor") {
        let thread = Thread { [self] in runJobs() }
        thread.name = name
        thread.start()
    }

    /// Queues `job` for the executor's thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs `body` with a fresh `DedicatedExecutor` as its task executor preference (its child tasks
/// inherit it; pass the executor to `Task(executorPreference:)` for unstructured tasks).
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
public func withDedicatedExecutor<T: Sendable>(_ body: (DedicatedExecutor) async throws -> T) async throws -> T {
    let executor = DedicatedExecutor()
    return try await withTaskExecutorPreference(executor) { try await body(executor) }
}
