//! A fixed set of worker threads that run one parallel job at a time; the
//! thread that submits a job works on it too (worker index 0).
//!
//! A job is `n_tasks` calls of one function, handed out dynamically by an
//! atomic counter, so tasks of uneven cost still keep every thread busy.
//! Each worker sleeps on its own condition variable between jobs, so a job
//! wakes only the workers it uses.
//!
//! The process has one pool (`acquireGlobal`). A caller holds the pool's call
//! lock (a `Lease`) from before it sizes its per-thread scratch until its last
//! job ends, so two FFI calls from different threads never interleave and the
//! thread count cannot change under a running kernel. The threads belong to
//! the call: `acquireGlobal(thread_limit)` lets the lease use at most
//! `thread_limit` of the pool's threads (0 = all of them). While it is held,
//! `threadCount()` reports that count and jobs run on worker indices below it
//! only; the workers above it are not woken. Releasing the lease lifts the
//! limit. A lease never resizes the pool: `setGlobalThreadCount` is the one
//! control of its size, and `globalThreadCount()` reports it.
//!
//! Reentrancy rules, checked in every build mode (not by `assert`):
//!  - A thread holds at most one global lease. `acquireGlobal` on a thread that
//!    already holds it, or from inside a task of the global pool, fails with
//!    `error.Internal` (and a message) instead of deadlocking on the call lock;
//!    `setGlobalThreadCount` there panics, since it cannot report an error.
//!  - A lease is released once, on the thread that acquired it (else panic).
//!  - A task must not call `run` on the pool that runs it: the job would wait
//!    for itself. `run` detects this and panics; it is a bug in tacit. A task
//!    may run a job on a different pool.
//!
//! Fork: a child made by `fork()` has only the forking thread, while the pool
//! would still count on the parent's workers. When the global pool first
//! starts it registers a `pthread_atfork` child handler that forgets those
//! workers and re-initialises the pool's locks and condition variables, so
//! the child's first acquire starts fresh workers (with the thread count the
//! parent requested). Forking from inside a task is not supported.
//!
//! Built on libc pthread mutexes and condition variables plus std.atomic:
//! std.Io is avoided on purpose because its threaded backend installs signal
//! handlers, which a library loaded into Deno or Bun must not do.

const ThreadPool = @This();

const std = @import("std");
const c = std.c;
const assert = std.debug.assert;
const pin = @import("pin.zig");
const status = @import("status.zig");
const Error = status.Error;

/// The most threads a pool runs, the calling thread included.
pub const thread_count_max = 256;
const worker_stack_size_bytes = 4 * 1024 * 1024;

const Job = struct {
    context: *anyopaque,
    run_task: *const fn (context: *anyopaque, task_index: usize, worker_index: usize) void,
    n_tasks: usize,
    /// The threads that work on this job, the caller included: worker indices
    /// 0..thread_count. The workers above stay asleep.
    thread_count: usize,
    task_next: std.atomic.Value(usize) = .init(0),
};

/// Protects every field below it except `thread_limit`.
mutex: c.pthread_mutex_t = c.PTHREAD_MUTEX_INITIALIZER,
/// `cond_worker[i - 1]` wakes worker i: signalled when a job that includes it
/// is published, or when the pool shuts down.
cond_worker: [thread_count_max - 1]c.pthread_cond_t = @splat(c.PTHREAD_COND_INITIALIZER),
/// Signalled when the last worker leaves the current job.
cond_done: c.pthread_cond_t = c.PTHREAD_COND_INITIALIZER,
threads: [thread_count_max - 1]std.Thread = undefined,
/// Spawned worker threads; the pool's size is `workers_len + 1`.
workers_len: usize = 0,
/// Bumped once per published job; a worker runs each generation at most once.
generation: u64 = 0,
/// Workers that have not yet left the current job.
workers_busy: usize = 0,
job: ?*Job = null,
shutting_down: bool = false,
/// The most threads a job uses (>= 1), or 0 for all of them. Set and read only
/// by the thread that holds the pool (the global pool's lease holder), so it
/// needs no lock: workers see a job's count in `Job.thread_count`.
thread_limit: usize = 0,

/// Starts `thread_count - 1` workers (clamped to 1..thread_count_max). A
/// worker that cannot be spawned is done without: the pool still works with
/// fewer threads. `pool` must not move while it runs.
pub fn start(pool: *ThreadPool, thread_count: usize) void {
    // Checked in every mode: restarting a running pool would overwrite the
    // state its live workers read.
    if (pool.workers_len != 0) @panic("ThreadPool.start: the pool is already running; stop it first");
    pool.* = .{};
    const workers_wanted = std.math.clamp(thread_count, 1, thread_count_max) - 1;
    // `workers_wanted <= threads.len` by the clamp, so `threads[i]` and
    // `cond_worker[worker_index - 1]` stay in bounds.
    for (0..workers_wanted) |i| {
        const worker_index = i + 1;
        const thread = std.Thread.spawn(
            .{ .stack_size = worker_stack_size_bytes },
            workerMain,
            .{ pool, worker_index },
        ) catch break;
        pool.threads[i] = thread;
        pool.workers_len += 1;
    }
    assert(pool.workers_len <= workers_wanted);
}

/// Stops and joins every worker. No job may be running.
pub fn stop(pool: *ThreadPool) void {
    lock(&pool.mutex);
    // Checked in every mode: the running job's caller waits for workers that
    // would be gone, and its job lives on that caller's stack.
    if (pool.job != null) @panic("ThreadPool.stop: a job is still running on this pool");
    pool.shutting_down = true;
    for (pool.cond_worker[0..pool.workers_len]) |*cond| signal(cond);
    unlock(&pool.mutex);
    for (pool.threads[0..pool.workers_len]) |thread| thread.join();
    pool.workers_len = 0;
    pool.shutting_down = false;
}

/// The number of threads that run a job, the calling thread included (>= 1):
/// the pool's size, or the holder's thread limit when that is smaller.
pub fn threadCount(pool: *const ThreadPool) usize {
    const size = pool.workers_len + 1;
    if (pool.thread_limit == 0) return size;
    return @min(pool.thread_limit, size);
}

/// Calls `func(context, task_index, worker_index)` once for every task_index in
/// 0..n_tasks, spread over the pool's threads, and returns when all are done.
/// `worker_index < threadCount()` and no two concurrent calls share one, so it
/// indexes per-thread scratch. `func` must not call `run` on this pool (that
/// panics; see the top comment).
pub fn run(
    pool: *ThreadPool,
    n_tasks: usize,
    context: anytype,
    comptime func: fn (@TypeOf(context), usize, usize) void,
) void {
    const Context = @TypeOf(context);
    comptime assert(@typeInfo(Context) == .pointer);
    const Erased = struct {
        fn runTask(erased: *anyopaque, task_index: usize, worker_index: usize) void {
            const typed: Context = @ptrCast(@alignCast(erased));
            func(typed, task_index, worker_index);
        }
    };
    // Before the early returns, so the bug shows whatever the job's size.
    if (inTaskOf(pool)) {
        @panic("ThreadPool.run called from inside a task of the same pool (a tacit bug: " ++
            "the nested job would wait for the task that started it)");
    }
    if (n_tasks == 0) return;
    var job: Job = .{
        .context = @ptrCast(@constCast(context)),
        .run_task = Erased.runTask,
        .n_tasks = n_tasks,
        // Waking more threads than there are tasks would only cost time.
        .thread_count = @min(pool.threadCount(), n_tasks),
    };
    if (job.thread_count == 1) {
        runTasks(pool, &job, 0);
        return;
    }
    pool.publish(&job);
    runTasks(pool, &job, 0);
    pool.awaitWorkers();
    // An assert is enough: every `runTasks` loop advances the counter once per
    // iteration and stops only past the end or after `n_tasks` claims.
    assert(job.task_next.load(.monotonic) >= n_tasks);
}

fn publish(pool: *ThreadPool, job: *Job) void {
    lock(&pool.mutex);
    defer unlock(&pool.mutex);
    // Checked in every mode: a second job would overwrite `pool.job` while the
    // first (on another caller's stack) is still being worked on.
    if (pool.job != null or pool.workers_busy != 0) {
        @panic("ThreadPool.run: two jobs at once on one pool (concurrent callers without the pool's lease)");
    }
    // `thread_count <= threadCount() <= workers_len + 1`: only spawned workers
    // are counted busy, so `awaitWorkers` always ends.
    assert(job.thread_count >= 2 and job.thread_count <= pool.workers_len + 1);
    pool.job = job;
    pool.workers_busy = job.thread_count - 1;
    pool.generation +%= 1;
    for (pool.cond_worker[0 .. job.thread_count - 1]) |*cond| signal(cond);
}

fn awaitWorkers(pool: *ThreadPool) void {
    lock(&pool.mutex);
    defer unlock(&pool.mutex);
    while (pool.workers_busy != 0) _ = c.pthread_cond_wait(&pool.cond_done, &pool.mutex);
    pool.job = null;
}

/// The tasks a thread is running, innermost first: a linked list through the
/// stack frames of `runTasks`, so `run` can tell whether it is called from a
/// task of its own pool (also through a job on another pool).
const TaskFrame = struct {
    pool: *const ThreadPool,
    outer: ?*const TaskFrame,
};
threadlocal var task_frame_innermost: ?*const TaskFrame = null;

fn inTaskOf(pool: *const ThreadPool) bool {
    var frame = task_frame_innermost;
    while (frame) |f| : (frame = f.outer) {
        if (f.pool == pool) return true;
    }
    return false;
}

/// Claims tasks until none is left. Bounded: each claim advances the counter.
fn runTasks(pool: *const ThreadPool, job: *Job, worker_index: usize) void {
    const frame: TaskFrame = .{ .pool = pool, .outer = task_frame_innermost };
    task_frame_innermost = &frame;
    defer task_frame_innermost = frame.outer;
    for (0..job.n_tasks) |_| {
        const task_index = job.task_next.fetchAdd(1, .monotonic);
        if (task_index >= job.n_tasks) return;
        job.run_task(job.context, task_index, worker_index);
    }
}

/// Whether the current job includes `worker_index` and is one it has not run.
/// Call with `pool.mutex` held.
fn hasWorkFor(pool: *const ThreadPool, worker_index: usize, generation_seen: u64) bool {
    const job = pool.job orelse return false;
    return pool.generation != generation_seen and worker_index < job.thread_count;
}

fn workerMain(pool: *ThreadPool, worker_index: usize) void {
    const cond = &pool.cond_worker[worker_index - 1];
    lock(&pool.mutex);
    // `start` resets the generation to 0 before spawning, and no job can be
    // published before `start` returns, so 0 is the generation already seen.
    // A worker left out of a job keeps its old `generation_seen`: it never
    // runs that job, and the next job that includes it has a newer generation.
    var generation_seen: u64 = 0;
    while (true) {
        while (!pool.shutting_down and !pool.hasWorkFor(worker_index, generation_seen)) {
            _ = c.pthread_cond_wait(cond, &pool.mutex);
        }
        if (pool.shutting_down) break;
        const job = pool.job.?; // non-null: `hasWorkFor` checked it under the lock
        generation_seen = pool.generation;
        unlock(&pool.mutex);
        runTasks(pool, job, worker_index);
        lock(&pool.mutex);
        // Checked in every mode: an underflow would let `awaitWorkers` return
        // (and the job's stack frame go) while workers still run its tasks.
        if (pool.workers_busy == 0) @panic("ThreadPool: a worker left a job that counted no busy workers");
        pool.workers_busy -= 1;
        if (pool.workers_busy == 0) signal(&pool.cond_done);
    }
    unlock(&pool.mutex);
}

// Checked in every mode: a lock that silently failed would let two threads
// into the bookkeeping that keeps jobs' stack frames alive.
fn lock(mutex: *c.pthread_mutex_t) void {
    if (c.pthread_mutex_lock(mutex) != .SUCCESS) @panic("ThreadPool: pthread_mutex_lock failed");
}

fn unlock(mutex: *c.pthread_mutex_t) void {
    if (c.pthread_mutex_unlock(mutex) != .SUCCESS) @panic("ThreadPool: pthread_mutex_unlock failed");
}

fn signal(cond: *c.pthread_cond_t) void {
    _ = c.pthread_cond_signal(cond);
}

// ---------------------------------------------------------------------------
// The process-wide pool.

var global_pool: ThreadPool = .{};
var global_started = false;
/// 0 = the default: TACIT_NUM_THREADS, else the available cores.
var global_thread_count_requested: std.atomic.Value(usize) = .init(0);
/// The started pool's thread count; 0 while it is not started. Read without
/// the call lock so asking for the count never waits for a running kernel.
var global_thread_count_started: std.atomic.Value(usize) = .init(0);
/// Serialises callers of the global pool (held for a whole FFI call).
var global_call_mutex: c.pthread_mutex_t = c.PTHREAD_MUTEX_INITIALIZER;
/// Whether the fork child handler is registered (a child inherits it).
var global_atfork_registered = false;
/// Whether this thread holds the global pool's call lock.
threadlocal var holds_global_lease = false;

/// Exclusive use of the global pool for the duration of one kernel call,
/// limited to `threadCount()` of its threads.
pub const Lease = struct {
    pool: *ThreadPool,

    /// The threads this lease's jobs use, the caller included (>= 1).
    pub fn threadCount(lease: Lease) usize {
        return lease.pool.threadCount();
    }

    /// Lifts the thread limit and unlocks the pool. Once, on the thread that
    /// acquired the lease.
    pub fn release(lease: Lease) void {
        if (lease.pool != &global_pool) @panic("ThreadPool.Lease.release: not a lease of the global pool");
        if (!holds_global_lease) {
            @panic("ThreadPool.Lease.release: this thread holds no lease (released twice, or on another thread)");
        }
        global_pool.thread_limit = 0;
        holds_global_lease = false;
        unlock(&global_call_mutex);
    }
};

/// Locks the global pool, starting it on first use, and returns a lease whose
/// jobs use `thread_limit` threads (0 = all; at most the pool's size). The
/// caller must `release()` it. Fails with `error.Internal` on a thread that
/// already holds the lease or runs a task of the global pool, where waiting
/// for the lock would deadlock.
pub fn acquireGlobal(thread_limit: usize) Error!Lease {
    if (holds_global_lease) {
        return status.fail(.internal, "tacit bug: the thread pool was acquired twice on one thread " ++
            "(a native call that holds the pool asked for it again)", .{});
    }
    if (inTaskOf(&global_pool)) {
        return status.fail(.internal, "tacit bug: a task running on the thread pool asked for the pool", .{});
    }
    lock(&global_call_mutex);
    if (!global_started) startGlobal();
    global_pool.thread_limit = thread_limit;
    holds_global_lease = true;
    return .{ .pool = &global_pool };
}

/// Call with the call lock held.
fn startGlobal() void {
    pin.pinSelf();
    // Best effort: without the handler a forked child's first parallel call
    // hangs, as it did before; a later start tries again.
    if (!global_atfork_registered) {
        global_atfork_registered = c.pthread_atfork(null, null, resetGlobalInForkChild) == 0;
    }
    global_pool.start(resolveThreadCount(global_thread_count_requested.load(.monotonic)));
    global_started = true;
    global_thread_count_started.store(global_pool.threadCount(), .release);
}

/// The `pthread_atfork` child handler: runs in the child, on its only thread.
/// The parent's workers do not exist here, and the call lock or the pool's
/// mutex may have been held by a thread that does not either: forget the
/// workers without joining them (their stacks stay allocated in the child)
/// and re-initialise every lock and condition variable, so the next acquire
/// starts fresh workers. The requested thread count is kept.
fn resetGlobalInForkChild() callconv(.c) void {
    global_pool = .{};
    global_started = false;
    global_thread_count_started.store(0, .release);
    global_call_mutex = c.PTHREAD_MUTEX_INITIALIZER;
    // A forking thread that held the lease still does: it will release it.
    if (holds_global_lease) lock(&global_call_mutex);
}

/// Resizes the global pool: `thread_count` threads, or the default when 0.
/// Waits for a running kernel to finish; the new workers start lazily.
/// Panics on a thread that holds the lease or runs a task of the global pool.
pub fn setGlobalThreadCount(thread_count: usize) void {
    if (holds_global_lease or inTaskOf(&global_pool)) {
        @panic("ThreadPool.setGlobalThreadCount called while this thread holds the pool " ++
            "(a tacit bug: it would wait for itself)");
    }
    lock(&global_call_mutex);
    defer unlock(&global_call_mutex);
    if (global_started) {
        global_pool.stop();
        global_started = false;
        global_thread_count_started.store(0, .release);
    }
    global_thread_count_requested.store(@min(thread_count, thread_count_max), .monotonic);
}

/// The global pool's thread count (>= 1): the started pool's, else the count
/// it will start with. A lease's limit does not change it. Never waits for a
/// running kernel.
pub fn globalThreadCount() usize {
    const started = global_thread_count_started.load(.acquire);
    if (started != 0) return started;
    return resolveThreadCount(global_thread_count_requested.load(.monotonic));
}

fn resolveThreadCount(requested: usize) usize {
    if (requested > 0) return @min(requested, thread_count_max);
    if (threadCountFromEnvironment()) |count| return count;
    const cpu_count = std.Thread.getCpuCount() catch 1;
    return std.math.clamp(cpu_count, 1, thread_count_max);
}

/// TACIT_NUM_THREADS when it holds a positive integer; ignored otherwise.
fn threadCountFromEnvironment() ?usize {
    const value = c.getenv("TACIT_NUM_THREADS") orelse return null;
    const text = std.mem.trim(u8, std.mem.span(value), " \t");
    const count = std.fmt.parseInt(usize, text, 10) catch return null;
    if (count == 0) return null;
    return @min(count, thread_count_max);
}

// ---------------------------------------------------------------------------

const TestCounts = struct {
    counts: []std.atomic.Value(u32),
    worker_index_max: std.atomic.Value(usize) = .init(0),

    fn visit(context: *TestCounts, task_index: usize, worker_index: usize) void {
        _ = context.counts[task_index].fetchAdd(1, .monotonic);
        _ = context.worker_index_max.fetchMax(worker_index, .monotonic);
    }

    /// Runs `n_tasks` (<= counts.len) tasks on `pool` and checks that each ran
    /// once, on a worker index below `thread_count`.
    fn expectRunOnce(counts: []std.atomic.Value(u32), pool: *ThreadPool, n_tasks: usize, thread_count: usize) !void {
        @memset(counts[0..n_tasks], .init(0));
        var context: TestCounts = .{ .counts = counts[0..n_tasks] };
        pool.run(n_tasks, &context, visit);
        for (counts[0..n_tasks]) |*count| try std.testing.expectEqual(1, count.load(.monotonic));
        try std.testing.expect(context.worker_index_max.load(.monotonic) < thread_count);
    }
};

/// `n_tasks` tasks that each wait until all have started, so the job finishes
/// only if `n_tasks` distinct threads work on it. Bounded: a task gives up
/// after many yields, so a missing thread fails the check instead of hanging.
const TestBarrier = struct {
    n_tasks: usize,
    arrived: std.atomic.Value(usize) = .init(0),
    timed_out: std.atomic.Value(bool) = .init(false),
    worker_index_max: std.atomic.Value(usize) = .init(0),

    fn visit(context: *TestBarrier, task_index: usize, worker_index: usize) void {
        _ = task_index;
        _ = context.worker_index_max.fetchMax(worker_index, .monotonic);
        _ = context.arrived.fetchAdd(1, .acq_rel);
        var spins: usize = 0;
        while (context.arrived.load(.acquire) < context.n_tasks) : (spins += 1) {
            if (spins == 10_000_000) {
                context.timed_out.store(true, .monotonic);
                return;
            }
            std.Thread.yield() catch {};
        }
    }

    /// Whether `n_tasks` threads, all below `thread_count`, met in one job.
    fn meet(pool: *ThreadPool, n_tasks: usize, thread_count: usize) bool {
        var context: TestBarrier = .{ .n_tasks = n_tasks };
        pool.run(n_tasks, &context, visit);
        return !context.timed_out.load(.monotonic) and
            context.worker_index_max.load(.monotonic) < thread_count;
    }
};

test "run calls every task exactly once with 1, 2 and 7 threads" {
    const allocator = std.testing.allocator;
    for ([_]usize{ 1, 2, 7 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        try std.testing.expectEqual(thread_count, pool.threadCount());
        for ([_]usize{ 0, 1, 5, 1000 }) |n_tasks| {
            for (0..3) |_| {
                const counts = try allocator.alloc(std.atomic.Value(u32), n_tasks);
                defer allocator.free(counts);
                try TestCounts.expectRunOnce(counts, &pool, n_tasks, thread_count);
            }
        }
    }
}

test "the global pool can be resized" {
    setGlobalThreadCount(3);
    try std.testing.expectEqual(3, globalThreadCount());
    setGlobalThreadCount(1);
    try std.testing.expectEqual(1, globalThreadCount());
    setGlobalThreadCount(0);
    try std.testing.expect(globalThreadCount() >= 1);
}

test "a lease runs every task once on its own thread limit and never resizes the pool" {
    setGlobalThreadCount(4);
    defer setGlobalThreadCount(0);
    var counts: [1000]std.atomic.Value(u32) = undefined;
    for ([_]usize{ 1, 2, 3, 0, 9, 2 }) |limit| {
        const lease = try acquireGlobal(limit);
        defer lease.release();
        const expected: usize = if (limit == 0) 4 else @min(limit, 4);
        try std.testing.expectEqual(expected, lease.threadCount());
        try std.testing.expectEqual(expected, lease.pool.threadCount());
        try std.testing.expectEqual(4, globalThreadCount());
        for ([_]usize{ 1, 3, 7, 1000 }) |n_tasks| {
            for (0..3) |_| try TestCounts.expectRunOnce(&counts, lease.pool, n_tasks, expected);
        }
        // The lease's threads really work: `expected` of them meet in one job.
        try std.testing.expect(TestBarrier.meet(lease.pool, expected, expected));
    }
    try std.testing.expectEqual(4, globalThreadCount());
    const lease = try acquireGlobal(0);
    defer lease.release();
    try std.testing.expectEqual(4, lease.threadCount());
}

const TestLeaseLoop = struct {
    limit: usize,
    iterations: usize,
    failed: bool = false,

    fn loop(context: *TestLeaseLoop) void {
        context.loopOrError() catch {
            context.failed = true;
        };
    }

    fn loopOrError(context: *TestLeaseLoop) !void {
        var counts: [64]std.atomic.Value(u32) = undefined;
        for (0..context.iterations) |_| {
            const lease = try acquireGlobal(context.limit);
            defer lease.release();
            try std.testing.expectEqual(context.limit, lease.threadCount());
            try TestCounts.expectRunOnce(&counts, lease.pool, counts.len, context.limit);
        }
    }
};

test "two threads that lease the global pool with different limits each see their own" {
    setGlobalThreadCount(4);
    defer setGlobalThreadCount(0);
    var one: TestLeaseLoop = .{ .limit = 1, .iterations = 300 };
    var three: TestLeaseLoop = .{ .limit = 3, .iterations = 300 };
    const thread = try std.Thread.spawn(.{}, TestLeaseLoop.loop, .{&three});
    TestLeaseLoop.loop(&one);
    thread.join();
    try std.testing.expect(!one.failed);
    try std.testing.expect(!three.failed);
    try std.testing.expectEqual(4, globalThreadCount());
}

const TestAcquireInTask = struct {
    results: []?Error!void,

    fn visit(context: *TestAcquireInTask, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const lease = acquireGlobal(0) catch |err| {
            context.results[task_index] = err;
            return;
        };
        lease.release();
        context.results[task_index] = {};
    }
};

test "acquiring the global pool again on its holder's thread, or from its task, fails and leaves the lease working" {
    setGlobalThreadCount(3);
    defer setGlobalThreadCount(0);
    const lease = try acquireGlobal(2);
    defer lease.release();
    try std.testing.expectError(error.Internal, acquireGlobal(0));
    try std.testing.expect(std.mem.indexOf(u8, status.lastMessage(), "acquired twice on one thread") != null);

    try std.testing.expectEqual(2, lease.threadCount());
    var counts: [100]std.atomic.Value(u32) = undefined;
    try TestCounts.expectRunOnce(&counts, lease.pool, counts.len, 2);

    // A task, on the caller or on a worker, gets the error instead of waiting
    // for the lock its own job's caller holds.
    var results: [8]?Error!void = @splat(null);
    var context: TestAcquireInTask = .{ .results = &results };
    lease.pool.run(results.len, &context, TestAcquireInTask.visit);
    for (results) |result| try std.testing.expectError(error.Internal, result.?);
    try TestCounts.expectRunOnce(&counts, lease.pool, counts.len, 2);
}

/// Runs in a forked child: a parallel job over the global pool must use at
/// least two threads and run every task once. Exits 0 on success, 1 otherwise;
/// SIGALRM ends a hang.
fn testForkChild() noreturn {
    _ = c.alarm(20);
    const ok = testForkChildCheck() catch false;
    c._exit(if (ok) 0 else 1);
}

fn testForkChildCheck() !bool {
    const lease = try acquireGlobal(0);
    defer lease.release();
    const thread_count = lease.threadCount();
    if (thread_count < 2) return false;
    if (!TestBarrier.meet(lease.pool, 2, thread_count)) return false;
    var counts: [1000]std.atomic.Value(u32) = undefined;
    @memset(&counts, .init(0));
    var context: TestCounts = .{ .counts = &counts };
    lease.pool.run(counts.len, &context, TestCounts.visit);
    for (&counts) |*count| {
        if (count.load(.monotonic) != 1) return false;
    }
    return context.worker_index_max.load(.monotonic) < thread_count;
}

/// Forks; the child runs `child`. Returns the child's pid to the parent.
fn testFork(comptime child: fn () noreturn) !c.pid_t {
    const pid = c.fork();
    if (pid < 0) return error.ForkFailed;
    if (pid == 0) child();
    return pid;
}

fn testWait(pid: c.pid_t) !u32 {
    var wait_status: c_int = 0;
    while (c.waitpid(pid, &wait_status, 0) < 0) {
        if (c._errno().* != @backingInt(c.E.INTR)) return error.WaitFailed;
    }
    return @bitCast(wait_status);
}

fn testForkAndWait(comptime child: fn () noreturn) !u32 {
    return testWait(try testFork(child));
}

fn expectExitedZero(wait_status: u32) !void {
    try std.testing.expect(c.W.IFEXITED(wait_status));
    try std.testing.expectEqual(0, c.W.EXITSTATUS(wait_status));
}

const TestHolder = struct {
    state: std.atomic.Value(u8) = .init(0),

    /// Holds the lease until told to let go: 0 = starting, 1 = holding, 2 = let go.
    fn hold(context: *TestHolder) void {
        const lease = acquireGlobal(0) catch return;
        defer lease.release();
        context.state.store(1, .release);
        while (context.state.load(.acquire) != 2) std.Thread.yield() catch {};
    }
};

test "after fork the child's global pool starts fresh workers" {
    setGlobalThreadCount(3);
    defer setGlobalThreadCount(0);
    var counts: [1000]std.atomic.Value(u32) = undefined;
    {
        const lease = try acquireGlobal(0);
        defer lease.release();
        try std.testing.expectEqual(3, lease.threadCount());
        try std.testing.expect(TestBarrier.meet(lease.pool, 3, 3));
        try TestCounts.expectRunOnce(&counts, lease.pool, counts.len, 3);
    }
    try expectExitedZero(try testForkAndWait(testForkChild));

    // Fork while another thread holds the call lock: the child gets it anyway.
    var holder: TestHolder = .{};
    const thread = try std.Thread.spawn(.{}, TestHolder.hold, .{&holder});
    while (holder.state.load(.acquire) == 0) std.Thread.yield() catch {};
    const wait_status = testForkAndWait(testForkChild);
    holder.state.store(2, .release);
    thread.join();
    try expectExitedZero(try wait_status);

    // The parent's pool is untouched.
    const lease = try acquireGlobal(0);
    defer lease.release();
    try std.testing.expectEqual(3, lease.threadCount());
    try TestCounts.expectRunOnce(&counts, lease.pool, counts.len, 3);
}

const TestNestedRun = struct {
    pool: *ThreadPool,

    fn visit(context: *TestNestedRun, task_index: usize, worker_index: usize) void {
        _ = task_index;
        _ = worker_index;
        var counts: [4]std.atomic.Value(u32) = @splat(.init(0));
        var inner: TestCounts = .{ .counts = &counts };
        context.pool.run(counts.len, &inner, TestCounts.visit);
    }
};

/// The write end of the pipe that `testNestedRunChild` sends its stderr to.
var test_stderr_pipe: [2]c.fd_t = .{ -1, -1 };

fn testNestedRunChild() noreturn {
    _ = c.alarm(20);
    _ = c.close(test_stderr_pipe[0]);
    if (c.dup2(test_stderr_pipe[1], 2) < 0) c._exit(2);
    var pool: ThreadPool = .{};
    pool.start(2);
    var context: TestNestedRun = .{ .pool = &pool };
    // Two tasks on two threads: the job is published, so without the check the
    // nested run would collide with it.
    pool.run(2, &context, TestNestedRun.visit);
    c._exit(0); // not reached: the nested run panics
}

test "run from inside a task of the same pool panics with a clear message" {
    if (c.pipe(&test_stderr_pipe) != 0) return error.PipeFailed;
    const pid = testFork(testNestedRunChild);
    _ = c.close(test_stderr_pipe[1]);
    // Read the child's stderr to its end (the pipe closes when it dies) before
    // waiting, so a long report cannot block it on a full pipe.
    var stderr_text: [16 * 1024]u8 = undefined;
    var stderr_len: usize = 0;
    var discard: [4096]u8 = undefined;
    while (true) {
        const room = stderr_text[stderr_len..];
        const buffer = if (room.len > 0) room else &discard;
        const n = c.read(test_stderr_pipe[0], buffer.ptr, buffer.len);
        if (n <= 0) break;
        if (room.len > 0) stderr_len += @intCast(n);
    }
    _ = c.close(test_stderr_pipe[0]);
    const wait_status_value = try testWait(try pid);
    try std.testing.expect(c.W.IFSIGNALED(wait_status_value));
    try std.testing.expectEqual(c.SIG.ABRT, c.W.TERMSIG(wait_status_value));
    const text = stderr_text[0..stderr_len];
    try std.testing.expect(std.mem.indexOf(u8, text, "run called from inside a task of the same pool") != null);
}
