//! A fixed set of worker threads that run one parallel job at a time; the
//! thread that submits a job works on it too (worker index 0).
//!
//! A job is `n_tasks` calls of one function, handed out dynamically by an
//! atomic counter, so tasks of uneven cost still keep every thread busy.
//! Workers sleep on a condition variable between jobs.
//!
//! The process has one pool (`acquireGlobal`). A caller holds the pool's call
//! lock (a `Lease`) from before it sizes its per-thread scratch until its last
//! job ends, so two FFI calls from different threads never interleave and the
//! thread count cannot change under a running kernel.
//!
//! Built on libc pthread mutexes and condition variables plus std.atomic:
//! std.Io is avoided on purpose because its threaded backend installs signal
//! handlers, which a library loaded into Deno or Bun must not do.

const ThreadPool = @This();

const std = @import("std");
const c = std.c;
const assert = std.debug.assert;
const pin = @import("pin.zig");

/// The most threads a pool runs, the calling thread included.
pub const thread_count_max = 256;
const worker_stack_size_bytes = 4 * 1024 * 1024;

const Job = struct {
    context: *anyopaque,
    run_task: *const fn (context: *anyopaque, task_index: usize, worker_index: usize) void,
    n_tasks: usize,
    task_next: std.atomic.Value(usize) = .init(0),
};

/// Protects every field below it.
mutex: c.pthread_mutex_t = c.PTHREAD_MUTEX_INITIALIZER,
/// Signalled when a job is published or the pool shuts down.
cond_job: c.pthread_cond_t = c.PTHREAD_COND_INITIALIZER,
/// Signalled when the last worker leaves the current job.
cond_done: c.pthread_cond_t = c.PTHREAD_COND_INITIALIZER,
threads: [thread_count_max - 1]std.Thread = undefined,
/// Spawned worker threads; the pool's thread count is `workers_len + 1`.
workers_len: usize = 0,
/// Bumped once per published job; a worker runs each generation once.
generation: u64 = 0,
/// Workers that have not yet left the current job.
workers_busy: usize = 0,
job: ?*Job = null,
shutting_down: bool = false,

/// Starts `thread_count - 1` workers (clamped to 1..thread_count_max). A
/// worker that cannot be spawned is done without: the pool still works with
/// fewer threads. `pool` must not move while it runs.
pub fn start(pool: *ThreadPool, thread_count: usize) void {
    assert(pool.workers_len == 0);
    pool.* = .{};
    const workers_wanted = std.math.clamp(thread_count, 1, thread_count_max) - 1;
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
    assert(pool.job == null);
    pool.shutting_down = true;
    _ = c.pthread_cond_broadcast(&pool.cond_job);
    unlock(&pool.mutex);
    for (pool.threads[0..pool.workers_len]) |thread| thread.join();
    pool.workers_len = 0;
    pool.shutting_down = false;
}

/// The number of threads that run a job, the calling thread included (>= 1).
pub fn threadCount(pool: *const ThreadPool) usize {
    return pool.workers_len + 1;
}

/// Calls `func(context, task_index, worker_index)` once for every task_index in
/// 0..n_tasks, spread over the pool's threads, and returns when all are done.
/// `worker_index < threadCount()` and no two concurrent calls share one, so it
/// indexes per-thread scratch. `func` must not call `run` itself.
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
    if (n_tasks == 0) return;
    var job: Job = .{
        .context = @ptrCast(@constCast(context)),
        .run_task = Erased.runTask,
        .n_tasks = n_tasks,
    };
    if (n_tasks == 1 or pool.workers_len == 0) {
        runTasks(&job, 0);
        return;
    }
    pool.publish(&job);
    runTasks(&job, 0);
    pool.awaitWorkers();
    assert(job.task_next.load(.monotonic) >= n_tasks);
}

fn publish(pool: *ThreadPool, job: *Job) void {
    lock(&pool.mutex);
    defer unlock(&pool.mutex);
    assert(pool.job == null);
    assert(pool.workers_busy == 0);
    pool.job = job;
    pool.workers_busy = pool.workers_len;
    pool.generation +%= 1;
    _ = c.pthread_cond_broadcast(&pool.cond_job);
}

fn awaitWorkers(pool: *ThreadPool) void {
    lock(&pool.mutex);
    defer unlock(&pool.mutex);
    while (pool.workers_busy != 0) _ = c.pthread_cond_wait(&pool.cond_done, &pool.mutex);
    pool.job = null;
}

/// Claims tasks until none is left. Bounded: each claim advances the counter.
fn runTasks(job: *Job, worker_index: usize) void {
    for (0..job.n_tasks) |_| {
        const task_index = job.task_next.fetchAdd(1, .monotonic);
        if (task_index >= job.n_tasks) return;
        job.run_task(job.context, task_index, worker_index);
    }
}

fn workerMain(pool: *ThreadPool, worker_index: usize) void {
    lock(&pool.mutex);
    // `start` resets the generation to 0 before spawning, and no job can be
    // published before `start` returns, so 0 is the generation already seen.
    var generation_seen: u64 = 0;
    while (true) {
        while (pool.generation == generation_seen and !pool.shutting_down) {
            _ = c.pthread_cond_wait(&pool.cond_job, &pool.mutex);
        }
        if (pool.shutting_down) break;
        generation_seen = pool.generation;
        const job = pool.job.?;
        unlock(&pool.mutex);
        runTasks(job, worker_index);
        lock(&pool.mutex);
        assert(pool.workers_busy > 0);
        pool.workers_busy -= 1;
        if (pool.workers_busy == 0) _ = c.pthread_cond_signal(&pool.cond_done);
    }
    unlock(&pool.mutex);
}

fn lock(mutex: *c.pthread_mutex_t) void {
    const rc = c.pthread_mutex_lock(mutex);
    assert(rc == .SUCCESS);
}

fn unlock(mutex: *c.pthread_mutex_t) void {
    const rc = c.pthread_mutex_unlock(mutex);
    assert(rc == .SUCCESS);
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

/// Exclusive use of the global pool for the duration of one kernel call.
pub const Lease = struct {
    pool: *ThreadPool,

    pub fn threadCount(lease: Lease) usize {
        return lease.pool.threadCount();
    }

    pub fn release(lease: Lease) void {
        assert(lease.pool == &global_pool);
        unlock(&global_call_mutex);
    }
};

/// Locks the global pool, starting it on first use, and returns it. The
/// caller must `release()` the lease; a second acquire on the same thread
/// before that deadlocks.
pub fn acquireGlobal(thread_limit: usize) @import("status.zig").Error!Lease {
    _ = thread_limit;
    lock(&global_call_mutex);
    if (!global_started) {
        pin.pinSelf();
        global_pool.start(resolveThreadCount(global_thread_count_requested.load(.monotonic)));
        global_started = true;
        global_thread_count_started.store(global_pool.threadCount(), .release);
    }
    return .{ .pool = &global_pool };
}

/// Resizes the global pool: `thread_count` threads, or the default when 0.
/// Waits for a running kernel to finish; the new workers start lazily.
pub fn setGlobalThreadCount(thread_count: usize) void {
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
/// it will start with. Never waits for a running kernel.
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
                @memset(counts, .init(0));
                var context: TestCounts = .{ .counts = counts };
                pool.run(n_tasks, &context, TestCounts.visit);
                for (counts) |*count| try std.testing.expectEqual(1, count.load(.monotonic));
                try std.testing.expect(context.worker_index_max.load(.monotonic) < thread_count);
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
