//! Little-endian writing and reading of an index's serialized bytes, shared
//! by hnsw.zig, ivf.zig and forest.zig. Both sides assume the caller checked
//! the length first (serializedLen for writing, the expected length for
//! reading), so a position never passes the end.

const std = @import("std");

pub const Writer = struct {
    bytes: []u8,
    pos: usize = 0,

    pub fn raw(writer: *Writer, data: []const u8) void {
        @memcpy(writer.bytes[writer.pos..][0..data.len], data);
        writer.pos += data.len;
    }

    pub fn int(writer: *Writer, comptime T: type, value: T) void {
        std.mem.writeInt(T, writer.bytes[writer.pos..][0..@sizeOf(T)], value, .little);
        writer.pos += @sizeOf(T);
    }

    pub fn float(writer: *Writer, value: f32) void {
        writer.int(u32, @bitCast(value));
    }

    pub fn floats(writer: *Writer, values: []const f32) void {
        for (values) |value| writer.float(value);
    }
};

pub const Reader = struct {
    bytes: []const u8,
    pos: usize = 0,

    pub fn raw(reader: *Reader, len: usize) []const u8 {
        const data = reader.bytes[reader.pos..][0..len];
        reader.pos += len;
        return data;
    }

    pub fn int(reader: *Reader, comptime T: type) T {
        return std.mem.readInt(T, reader.raw(@sizeOf(T))[0..@sizeOf(T)], .little);
    }

    /// A u64 count, saturated to usize (the caller's checks then refuse it).
    pub fn size(reader: *Reader) usize {
        return std.math.cast(usize, reader.int(u64)) orelse std.math.maxInt(usize);
    }

    pub fn float(reader: *Reader) f32 {
        return @bitCast(reader.int(u32));
    }

    pub fn floats(reader: *Reader, out: []f32) void {
        for (out) |*value| value.* = reader.float();
    }
};

test "what a Writer writes a Reader reads back" {
    var bytes: [4 + 8 + 3 + 8]u8 = undefined;
    var writer: Writer = .{ .bytes = &bytes };
    writer.int(u32, 0xdeadbeef);
    writer.int(u64, 7);
    writer.raw("abc");
    writer.floats(&.{ 1.5, -2 });
    try std.testing.expectEqual(bytes.len, writer.pos);
    var reader: Reader = .{ .bytes = &bytes };
    try std.testing.expectEqual(0xdeadbeef, reader.int(u32));
    try std.testing.expectEqual(7, reader.size());
    try std.testing.expectEqualStrings("abc", reader.raw(3));
    var back: [2]f32 = undefined;
    reader.floats(&back);
    try std.testing.expectEqualSlices(f32, &.{ 1.5, -2 }, &back);
}
