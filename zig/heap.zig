//! The bounded top-k heap every ranking in tacit shares (zig/topk.zig,
//! zig/knn.zig), so all of them order results the same way: score descending,
//! then id ascending.
//!
//! The heap is a binary min-heap on two parallel arrays, usually the front of
//! a caller's output row: the root is the worst entry kept (lowest score, then
//! highest id), so a candidate is compared against one entry. Capacity is
//! `ids.len`; the caller keeps the length (one integer per query, beside the
//! row), so a heap is a view and costs nothing to rebuild.

const std = @import("std");
const assert = std.debug.assert;

pub fn TopK(comptime Id: type, comptime Score: type) type {
    comptime {
        assert(@typeInfo(Id).int.signedness == .signed);
        assert(@typeInfo(Score) == .float);
    }
    return struct {
        const Heap = @This();

        ids: []Id,
        scores: []Score,

        /// What an output row holds after its ranked entries.
        pub const id_padding: Id = -1;
        pub const score_padding: Score = -std.math.inf(Score);

        pub fn init(ids: []Id, scores: []Score) Heap {
            assert(ids.len == scores.len);
            return .{ .ids = ids, .scores = scores };
        }

        /// True when (score_a, id_a) ranks after (score_b, id_b).
        pub fn worse(score_a: Score, id_a: Id, score_b: Score, id_b: Id) bool {
            return score_a < score_b or (score_a == score_b and id_a > id_b);
        }

        /// Whether `offer` would keep (id, score): the heap has room or the
        /// entry ranks before the root (`scores[0]`, `ids[0]`). The heap must
        /// have room for one entry at least.
        pub fn admits(heap: Heap, len: usize, id: Id, score: Score) bool {
            assert(heap.ids.len >= 1 and len <= heap.ids.len);
            return len < heap.ids.len or worse(heap.scores[0], heap.ids[0], score, id);
        }

        /// Keeps (id, score) if the heap has room or it ranks before the root;
        /// returns the new length.
        pub fn offer(heap: Heap, len: usize, id: Id, score: Score) usize {
            assert(len <= heap.ids.len);
            if (len < heap.ids.len) {
                heap.push(len, id, score);
                return len + 1;
            }
            if (len > 0 and worse(heap.scores[0], heap.ids[0], score, id)) heap.replaceRoot(len, id, score);
            return len;
        }

        fn push(heap: Heap, len: usize, id: Id, score: Score) void {
            assert(len < heap.ids.len);
            var i = len;
            while (i > 0) {
                const parent = (i - 1) / 2;
                if (!worse(score, id, heap.scores[parent], heap.ids[parent])) break;
                heap.ids[i] = heap.ids[parent];
                heap.scores[i] = heap.scores[parent];
                i = parent;
            }
            heap.ids[i] = id;
            heap.scores[i] = score;
        }

        fn replaceRoot(heap: Heap, len: usize, id: Id, score: Score) void {
            assert(len >= 1);
            var i: usize = 0;
            while (true) {
                var child = 2 * i + 1;
                if (child >= len) break;
                if (child + 1 < len and worse(heap.scores[child + 1], heap.ids[child + 1], heap.scores[child], heap.ids[child])) {
                    child += 1;
                }
                if (!worse(heap.scores[child], heap.ids[child], score, id)) break;
                heap.ids[i] = heap.ids[child];
                heap.scores[i] = heap.scores[child];
                i = child;
            }
            heap.ids[i] = id;
            heap.scores[i] = score;
        }

        /// The sorted extraction: heap sort, repeatedly moving the worst entry
        /// to the end, so entries [0, len) end best first.
        pub fn sortBestFirst(heap: Heap, len: usize) void {
            var end = len;
            while (end > 1) {
                end -= 1;
                const id = heap.ids[end];
                const score = heap.scores[end];
                heap.ids[end] = heap.ids[0];
                heap.scores[end] = heap.scores[0];
                heap.replaceRoot(end, id, score);
            }
        }

        /// Sorts entries [0, len) by id ascending instead (the column order of
        /// a CSR row).
        pub fn sortById(heap: Heap, len: usize) void {
            std.sort.pdqContext(0, len, ById{ .heap = heap });
        }

        const ById = struct {
            heap: Heap,

            pub fn lessThan(context: ById, a: usize, b: usize) bool {
                return context.heap.ids[a] < context.heap.ids[b];
            }

            pub fn swap(context: ById, a: usize, b: usize) void {
                std.mem.swap(Id, &context.heap.ids[a], &context.heap.ids[b]);
                std.mem.swap(Score, &context.heap.scores[a], &context.heap.scores[b]);
            }
        };

        /// Fills an output row after its `len` ranked entries with the padding.
        pub fn pad(ids: []Id, scores: []Score, len: usize) void {
            assert(ids.len == scores.len and len <= ids.len);
            @memset(ids[len..], id_padding);
            @memset(scores[len..], score_padding);
        }
    };
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

test "offer, sortBestFirst and pad keep the brute-force top k, with exact ties" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(17);
    const random = prng.random();
    const Heap = TopK(i32, f32);
    for ([_]usize{ 0, 1, 2, 7, 40 }) |n| {
        const scores = try allocator.alloc(f32, n);
        defer allocator.free(scores);
        // Small integers make many exact ties; ids are offered in random order.
        helpers.fillIntegers(random, scores, -3, 3);
        const order = try allocator.alloc(i32, n);
        defer allocator.free(order);
        for (order, 0..) |*id, i| id.* = @intCast(i);
        random.shuffle(i32, order);
        const eligible = try allocator.alloc(bool, n);
        defer allocator.free(eligible);
        @memset(eligible, true);
        for ([_]usize{ 1, 3, 7, 50 }) |k| {
            var row: helpers.Ranking = try .init(allocator, 1, k);
            defer row.deinit(allocator);
            var expected: helpers.Ranking = try .init(allocator, 1, k);
            defer expected.deinit(allocator);
            const ids = row.ids;
            const kept = row.scores;
            const heap: Heap = .init(ids, kept);
            var len: usize = 0;
            for (order) |id| {
                const score = scores[@intCast(id)];
                const admitted = heap.admits(len, id, score);
                const len_before = len;
                const root_before = if (len > 0) ids[0] else Heap.id_padding;
                len = heap.offer(len, id, score);
                // admits() says exactly whether offer() changed the heap.
                try testing.expectEqual(admitted, len != len_before or (len > 0 and ids[0] != root_before));
            }
            heap.sortBestFirst(len);
            Heap.pad(ids, kept, len);
            const expected_len = try helpers.bruteTopK(allocator, scores, eligible, k, expected.ids, expected.scores);
            try testing.expectEqual(expected_len, len);
            try expected.expectEqual(ids, kept);

            heap.sortById(len);
            if (len > 0) for (1..len) |i| try testing.expect(ids[i - 1] < ids[i]);
            for (ids[0..len], kept[0..len]) |id, score| try testing.expectEqual(scores[@intCast(id)], score);
        }
    }
}

test "another instantiation orders the same way" {
    const Heap = TopK(i64, f64);
    var ids: [2]i64 = undefined;
    var scores: [2]f64 = undefined;
    const heap: Heap = .init(&ids, &scores);
    var len: usize = 0;
    for ([_]i64{ 5, 3, 9, 1 }, [_]f64{ 1, 2, 2, 0.5 }) |id, score| len = heap.offer(len, id, score);
    heap.sortBestFirst(len);
    try testing.expectEqualSlices(i64, &.{ 3, 9 }, &ids);
    try testing.expectEqualSlices(f64, &.{ 2, 2 }, &scores);
}
