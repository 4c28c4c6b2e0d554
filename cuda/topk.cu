// Batched exact top-k by inner product on the GPU: recommend, similarItems
// and similarUsers. Queries go in blocks sized to the free memory; a block's
// scores are one cuBLAS GEMM (targets · queriesᵀ, float32 accumulation), a
// kernel marks each query's excluded targets (its liked items) as NaN, and a
// select-k kernel — one thread block per query — skips NaN, masked and
// non-candidate targets inside the scan, so nothing is over-fetched.
//
// Select-k: scores become order-preserving unsigned keys; three radix passes
// (11, 11 and 10 bits, a shared-memory histogram each) find the k-th largest
// key; every key above it is taken, and of the keys equal to it the smallest
// ids (an ordered block scan in id order); a bitonic sort in shared memory
// puts the k best first, ties by smaller id: the CPU's order (zig/heap.zig).
#include "common.cuh"

#include <algorithm>
#include <climits>
#include <type_traits>

using namespace tacit;

namespace {

constexpr int select_threads = 256;
constexpr int k_max = 2048;
constexpr int radix_bins = 2048;

// Larger key, larger score; −0 becomes +0 first (the CPU ranks them as equal, by id).
__device__ __forceinline__ uint32_t keyOf(float score) {
  uint32_t bits = __float_as_uint(score + 0.0f);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ float scoreOf(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

// Row q (local to the block) of the exclusions: indptr rebased by indptr[0].
__global__ void maskExcluded(float *scores, int64_t n_targets, const int32_t *indptr, const int32_t *indices) {
  const int q = blockIdx.x;
  const int base = indptr[0];
  const int begin = indptr[q] - base, end = indptr[q + 1] - base;
  float *row = scores + (size_t)q * n_targets;
  for (int i = begin + threadIdx.x; i < end; i += blockDim.x) row[indices[i]] = __int_as_float(0x7fc00000);
}

struct SelectShared {
  unsigned histogram[radix_bins];
  uint32_t keys[k_max];
  int32_t ids[k_max];
  unsigned warp_counts[select_threads / 32];
  unsigned taken;
  unsigned selected_digit;
  unsigned remaining;
};

__device__ __forceinline__ bool eligible(float score, int32_t id, const uint8_t *mask) {
  return !isnan(score) && !(mask && mask[id]);
}

// One block per query of the GEMM block; see the file's comment.
__global__ void __launch_bounds__(select_threads) selectTopK(const float *scores, int64_t n_targets,
                                                             const uint8_t *mask, const int32_t *candidates,
                                                             int64_t n_candidates, int k, int32_t *out_ids,
                                                             float *out_scores) {
  __shared__ SelectShared s;
  const int q = blockIdx.x;
  const float *row = scores + (size_t)q * n_targets;
  const int64_t positions = candidates ? n_candidates : n_targets;
  auto idAt = [&](int64_t position) -> int32_t { return candidates ? candidates[position] : (int32_t)position; };

  // Eligible targets: when at most k, every one is taken.
  unsigned local = 0;
  for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
    int32_t id = idAt(p);
    local += eligible(row[id], id, mask);
  }
  // Block sum of `local`.
  {
    unsigned v = local;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if ((threadIdx.x & 31) == 0) s.warp_counts[threadIdx.x >> 5] = v;
  }
  __syncthreads();
  unsigned total = 0;
  for (int w = 0; w < select_threads / 32; ++w) total += s.warp_counts[w];
  const unsigned want = total < (unsigned)k ? total : (unsigned)k;

  // The k-th largest key: prefix/prefix_mask narrow it pass by pass.
  uint32_t prefix = 0, prefix_mask = 0;
  unsigned remaining = want;
  if (want > 0 && want < total) {
    const int shifts[3] = {21, 10, 0};
    const int widths[3] = {11, 11, 10};
    for (int pass = 0; pass < 3; ++pass) {
      const int bins = 1 << widths[pass];
      for (int b = threadIdx.x; b < bins; b += blockDim.x) s.histogram[b] = 0;
      __syncthreads();
      for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
        int32_t id = idAt(p);
        float score = row[id];
        if (!eligible(score, id, mask)) continue;
        uint32_t key = keyOf(score);
        if ((key & prefix_mask) == prefix) atomicAdd(&s.histogram[(key >> shifts[pass]) & (bins - 1)], 1u);
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        unsigned above = 0;
        int digit = bins - 1;
        for (; digit > 0; --digit) {
          if (above + s.histogram[digit] >= remaining) break;
          above += s.histogram[digit];
        }
        s.selected_digit = digit;
        s.remaining = remaining - above;
      }
      __syncthreads();
      prefix |= (uint32_t)s.selected_digit << shifts[pass];
      prefix_mask |= (uint32_t)(bins - 1) << shifts[pass];
      remaining = s.remaining;
      __syncthreads();
    }
  }
  // Take every key above the threshold (all eligible when want == total),
  // then `remaining` keys equal to it in increasing id.
  if (threadIdx.x == 0) s.taken = 0;
  __syncthreads();
  const bool take_all = want == total;
  for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
    int32_t id = idAt(p);
    float score = row[id];
    if (!eligible(score, id, mask)) continue;
    uint32_t key = keyOf(score);
    if (take_all || key > prefix) {
      unsigned slot = atomicAdd(&s.taken, 1u);
      s.keys[slot] = key;
      s.ids[slot] = id;
    }
  }
  __syncthreads();
  if (!take_all) {
    unsigned equal_taken = 0;
    const unsigned greater = s.taken;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int64_t base = 0; base < positions && equal_taken < remaining; base += blockDim.x) {
      const int64_t p = base + threadIdx.x;
      bool equal = false;
      int32_t id = 0;
      if (p < positions) {
        id = idAt(p);
        float score = row[id];
        equal = eligible(score, id, mask) && keyOf(score) == prefix;
      }
      const unsigned ballot = __ballot_sync(0xffffffffu, equal);
      if (lane == 0) s.warp_counts[warp] = __popc(ballot);
      __syncthreads();
      unsigned before = 0, chunk_total = 0;
      for (int w = 0; w < select_threads / 32; ++w) {
        if (w < warp) before += s.warp_counts[w];
        chunk_total += s.warp_counts[w];
      }
      const unsigned rank = equal_taken + before + __popc(ballot & ((1u << lane) - 1u));
      if (equal && rank < remaining) {
        s.keys[greater + rank] = prefix;
        s.ids[greater + rank] = id;
      }
      equal_taken += chunk_total;
      __syncthreads();
    }
  }
  __syncthreads();
  // Bitonic sort of the `want` entries, padded to a power of two with entries that rank last.
  int size = 1;
  while (size < (int)want) size <<= 1;
  for (int i = want + threadIdx.x; i < size; i += blockDim.x) {
    s.keys[i] = 0;
    s.ids[i] = INT_MAX;
  }
  __syncthreads();
  for (int width = 2; width <= size; width <<= 1) {
    for (int stride = width >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < size; i += blockDim.x) {
        const int partner = i ^ stride;
        if (partner > i) {
          const bool before = s.keys[i] > s.keys[partner] || (s.keys[i] == s.keys[partner] && s.ids[i] < s.ids[partner]);
          // Best first within a width-sized run when (i & width) == 0.
          const bool descending = (i & width) == 0;
          if (before != descending) {
            uint32_t key = s.keys[i];
            s.keys[i] = s.keys[partner];
            s.keys[partner] = key;
            int32_t id = s.ids[i];
            s.ids[i] = s.ids[partner];
            s.ids[partner] = id;
          }
        }
      }
      __syncthreads();
    }
  }
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    const bool ranked = i < (int)want;
    out_ids[(size_t)q * k + i] = ranked ? s.ids[i] : -1;
    out_scores[(size_t)q * k + i] = ranked ? scoreOf(s.keys[i]) : -INFINITY;
  }
}

template <typename T> cudaDataType cudaTypeOf() {
  if (std::is_same<T, float>::value) return CUDA_R_32F;
  if (std::is_same<T, __half>::value) return CUDA_R_16F;
  return CUDA_R_16BF;
}

}  // namespace

extern "C" int32_t tacit_cuda_topk(tc_call *call, tc_topk_args *args) {
  const int f = args->f, k = args->k;
  if (f < 1 || f > 1024) return fail(call, TC_INVALID, "Expected f in 1..1024 but found %d", f);
  if (k < 1 || k > k_max) return fail(call, TC_INVALID, "Expected k in 1..%d on the GPU but found %d", k_max, k);
  const int64_t nq = args->n_queries, nt = args->n_targets;
  if (nq == 0) return TC_OK;
  return withStorage(call, args->dtype, [&](auto *tag) -> int32_t {
    using T = std::remove_pointer_t<decltype(tag)>;
    Blas blas;
    TC_TRY(blas.open(call));
    DeviceBuffer mask, candidates, indptr, indices, scores, out_ids, out_scores;
    if (args->target_mask) {
      TC_TRY(mask.allocate(call, nt, "the item mask"));
      TC_CUDA(call, cudaMemcpy(mask.pointer, args->target_mask, nt, cudaMemcpyHostToDevice), "cudaMemcpy (item mask)");
    }
    if (args->candidates) {
      TC_TRY(candidates.allocate(call, sizeof(int32_t) * args->n_candidates, "the candidate ids"));
      TC_CUDA(call, cudaMemcpy(candidates.pointer, args->candidates, sizeof(int32_t) * args->n_candidates, cudaMemcpyHostToDevice), "cudaMemcpy (candidates)");
    }
    // Queries per block: the scores and outputs in half the free memory, at most 8192.
    size_t free_bytes = 0, total_bytes = 0;
    TC_CUDA(call, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const size_t per_query = sizeof(float) * (size_t)nt + 8 * (size_t)k;
    int64_t block = std::min<int64_t>(nq, std::min<int64_t>(8192, (int64_t)(free_bytes / 2 / per_query)));
    if (block < 1) {
      return fail(call, TC_OUT_OF_MEMORY, "GPU out of memory: the scores of one query need %zu bytes but %zu of %zu are free", per_query, free_bytes, total_bytes);
    }
    args->out_block_queries = block;
    TC_TRY(scores.allocate(call, sizeof(float) * (size_t)nt * block, "the scores of a query block"));
    TC_TRY(out_ids.allocate(call, sizeof(int32_t) * (size_t)k * block, "the ranked ids of a query block"));
    TC_TRY(out_scores.allocate(call, sizeof(float) * (size_t)k * block, "the ranked scores of a query block"));
    size_t exclude_capacity = 0;
    if (args->exclude_indptr) TC_TRY(indptr.allocate(call, sizeof(int32_t) * (block + 1), "the exclusions' row pointers"));
    const float one = 1.0f, zero = 0.0f;
    const T *queries = static_cast<const T *>(args->device_queries);
    for (int64_t q0 = 0; q0 < nq; q0 += block) {
      if (cancelled(call)) return fail(call, TC_CANCELLED, "cancelled");
      const int64_t count = std::min(block, nq - q0);
      TC_CUBLAS(call, cublasGemmEx(blas.handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)nt, (int)count, f, &one, args->device_targets,
                                   cudaTypeOf<T>(), f, queries + (size_t)q0 * f, cudaTypeOf<T>(), f, &zero, scores.pointer,
                                   CUDA_R_32F, (int)nt, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "cublasGemmEx (scores)");
      if (args->exclude_indptr) {
        const int32_t first = args->exclude_indptr[q0], last = args->exclude_indptr[q0 + count];
        const size_t n = (size_t)(last - first);
        if (n > exclude_capacity) {
          TC_TRY(indices.allocate(call, sizeof(int32_t) * n, "the excluded ids of a query block"));
          exclude_capacity = n;
        }
        TC_CUDA(call, cudaMemcpy(indptr.pointer, args->exclude_indptr + q0, sizeof(int32_t) * (count + 1), cudaMemcpyHostToDevice), "cudaMemcpy (exclusions)");
        if (n > 0) {
          TC_CUDA(call, cudaMemcpy(indices.pointer, args->exclude_indices + first, sizeof(int32_t) * n, cudaMemcpyHostToDevice), "cudaMemcpy (exclusions)");
          maskExcluded<<<(unsigned)count, 128>>>(scores.as<float>(), nt, indptr.as<int32_t>(), indices.as<int32_t>());
          TC_CUDA(call, cudaGetLastError(), "the exclusion kernel launch");
        }
      }
      selectTopK<<<(unsigned)count, select_threads>>>(scores.as<float>(), nt, mask.as<uint8_t>(), candidates.as<int32_t>(),
                                                      args->n_candidates, k, out_ids.as<int32_t>(), out_scores.as<float>());
      TC_CUDA(call, cudaGetLastError(), "the select-k kernel launch");
      TC_CUDA(call, cudaMemcpy(args->out_ids + (size_t)q0 * k, out_ids.pointer, sizeof(int32_t) * k * count, cudaMemcpyDeviceToHost), "the select-k kernel");
      TC_CUDA(call, cudaMemcpy(args->out_scores + (size_t)q0 * k, out_scores.pointer, sizeof(float) * k * count, cudaMemcpyDeviceToHost), "the select-k kernel");
    }
    return TC_OK;
  });
}
