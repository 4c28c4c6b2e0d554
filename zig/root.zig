//! The root of libtacit. abi/table.zig lists every export; exporting them
//! here makes the library. The other files are public so the benchmark and
//! tests can reach the kernels.

pub const c_api = @import("c_api.zig");
pub const c_api_sgd = @import("c_api_sgd.zig");
pub const c_api_knn = @import("c_api_knn.zig");
pub const c_api_hybrid = @import("c_api_hybrid.zig");
pub const hybrid = @import("hybrid.zig");
pub const c_api_ranks = @import("c_api_ranks.zig");
pub const c_api_minibatch = @import("c_api_minibatch.zig");
pub const c_api_ann = @import("c_api_ann.zig");
pub const c_api_gpu = @import("c_api_gpu.zig");
pub const ann = @import("ann/index.zig");
pub const status = @import("status.zig");
pub const ThreadPool = @import("ThreadPool.zig");
pub const simd = @import("simd.zig");
pub const partition = @import("partition.zig");
pub const linalg = @import("linalg.zig");
pub const csr = @import("csr.zig");
pub const heap = @import("heap.zig");
pub const filter = @import("filter.zig");
pub const finite = @import("finite.zig");
pub const als = @import("als.zig");
pub const topk = @import("topk.zig");
pub const topk_bf16 = @import("topk_bf16.zig");
pub const cpu_features = @import("cpu_features.zig");
pub const bpr = @import("bpr.zig");
pub const lmf = @import("lmf.zig");
pub const metrics = @import("metrics.zig");
pub const knn = @import("knn.zig");
pub const ranks = @import("ranks.zig");
pub const minibatch = @import("minibatch.zig");

pub const abi_table = @import("abi/table.zig");
pub const abi_edge = @import("abi/edge.zig");

comptime {
    abi_table.exportAll();
    abi_table.exportPlain();
}

test {
    _ = abi_table;
    _ = abi_edge;
    _ = @import("abi/handles.zig");
    _ = @import("bytes.zig");
    _ = c_api;
    _ = c_api_sgd;
    _ = c_api_knn;
    _ = c_api_hybrid;
    _ = hybrid;
    _ = @import("sgd/random.zig");
    _ = @import("sgd/negatives.zig");
    _ = @import("sgd/losses.zig");
    _ = @import("sgd/optimizers.zig");
    _ = @import("sgd/hogwild.zig");
    _ = c_api_ranks;
    _ = c_api_minibatch;
    _ = c_api_ann;
    _ = c_api_gpu;
    _ = @import("gpu/cuda.zig");
    _ = @import("ann/visited.zig");
    _ = @import("ann/serial.zig");
    _ = @import("ann/exact.zig");
    _ = @import("ann/search.zig");
    _ = ranks;
    _ = minibatch;
    _ = @import("sgd/pipeline.zig");
    _ = knn;
    _ = bpr;
    _ = lmf;
    _ = status;
    _ = ThreadPool;
    _ = simd;
    _ = partition;
    _ = linalg;
    _ = csr;
    _ = heap;
    _ = filter;
    _ = @import("testing.zig");
    _ = finite;
    _ = als;
    _ = topk;
    _ = topk_bf16;
    _ = cpu_features;
    _ = @import("ann/hnsw.zig");
    _ = metrics;
    _ = @import("ann/forest.zig");
    _ = @import("ann/ivf.zig");
}
