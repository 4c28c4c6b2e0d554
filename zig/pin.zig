//! Keeps libtacit mapped until the process exits.
//!
//! The pool's worker threads sleep inside this library's code between jobs. A
//! runtime that unloads the library while they exist (Deno closes FFI
//! libraries when it shuts down) would unmap the code under them and crash the
//! process on exit. Re-opening our own file with RTLD_NODELETE makes every
//! later dlclose leave the mapping in place.

const std = @import("std");
const builtin = @import("builtin");

const DlInfo = extern struct {
    dli_fname: ?[*:0]const u8,
    dli_fbase: ?*anyopaque,
    dli_sname: ?[*:0]const u8,
    dli_saddr: ?*anyopaque,
};

extern "c" fn dladdr(address: *const anyopaque, info: *DlInfo) c_int;

var pinned = false;

/// Pins the library that contains this function. Idempotent; best effort (a
/// failure only leaves the old behaviour). Call with the pool's call lock held.
pub fn pinSelf() void {
    if (pinned or builtin.is_test) return;
    pinned = true;
    var info: DlInfo = undefined;
    if (dladdr(@ptrCast(&pinSelf), &info) == 0) return;
    const path = info.dli_fname orelse return;
    _ = std.c.dlopen(path, .{ .NOW = true, .NOLOAD = true, .NODELETE = true });
}
