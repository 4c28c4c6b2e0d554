// Batched exact top-k by inner product on the GPU: recommend, similarItems
// and similarUsers. Queries go in blocks sized to the free memory; a block's
// scores are one cuBLAS GEMM (targets · queriesᵀ, float32 accumulation), a
// kernel marks each query's excluded targets (its liked items) as NaN, and a
// select-k kernel — one thread block per query — skips NaN, masked and
// non-candidate targets inside the scan, so nothing is over-fetched.
//
// Select-k: scores become order-preserving unsigned keys. A first scan
// counts the eligible keys into an 11-bit histogram of their top bits; while
// more than k_max keys sit at or above the bin of the k-th largest, a
// further radix pass (11, then 10 bits) narrows that bin. As soon as they fit
// in shared memory, one scan collects them all and a bitonic sort puts the k
// best first, ties by smaller id: the CPU's order (zig/heap.zig). Typically
// that is two or three reads of a row. Only when more than k_max keys equal
// the k-th largest exactly does a last, ordered scan take the ties in id order.
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
  unsigned above_in_pass;
};

static_assert(radix_bins % select_threads == 0 && (radix_bins / 2) % select_threads == 0,
              "each thread owns whole bins of the histogram");

__device__ __forceinline__ bool eligible(float score, int32_t id, const uint8_t *mask) {
  return !isnan(score) && !(mask && mask[id]);
}

// The sum of `v` over the threads after this one; `shared` one value per warp.
__device__ unsigned blockSumAfter(unsigned v, unsigned *shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  unsigned suffix = v;  // over lanes lane..31
  for (int offset = 1; offset < 32; offset <<= 1) {
    const unsigned other = __shfl_down_sync(0xffffffffu, suffix, offset);
    if (lane + offset < 32) suffix += other;
  }
  __syncthreads();  // `shared` may still be read
  if (lane == 0) shared[warp] = suffix;
  __syncthreads();
  unsigned after = suffix - v;
  for (int w = warp + 1; w < warps; ++w) after += shared[w];
  return after;
}

// The bin of `bins` that holds the `remaining`-th largest key, into
// s.selected_digit, and the count of keys in higher bins, into
// s.above_in_pass. Thread t owns a run of bins; higher threads, higher bins.
__device__ void selectDigit(SelectShared &s, int bins, unsigned remaining) {
  const int per = bins / blockDim.x, first = threadIdx.x * per;
  unsigned chunk = 0;
  for (int b = 0; b < per; ++b) chunk += s.histogram[first + b];
  unsigned above = blockSumAfter(chunk, s.warp_counts);
  if (above < remaining && remaining <= above + chunk) {
    for (int b = first + per - 1; b >= first; --b) {
      if (above + s.histogram[b] >= remaining) {
        s.selected_digit = b;
        s.above_in_pass = above;
        break;
      }
      above += s.histogram[b];
    }
  }
  __syncthreads();
}

// Radix pass p looks at `widthOf(p)` bits starting at bit `shiftOf(p)`: 11, 11, 10 from the top.
__device__ __forceinline__ int shiftOf(int pass) { return pass == 0 ? 21 : pass == 1 ? 10 : 0; }
__device__ __forceinline__ int widthOf(int pass) { return pass == 2 ? 10 : 11; }

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

  // The first pass's histogram over every eligible key; its sum is their count.
  for (int b = threadIdx.x; b < radix_bins; b += blockDim.x) s.histogram[b] = 0;
  __syncthreads();
  for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
    const int32_t id = idAt(p);
    const float score = row[id];
    if (eligible(score, id, mask)) atomicAdd(&s.histogram[keyOf(score) >> shiftOf(0)], 1u);
  }
  __syncthreads();
  unsigned local = 0;
  for (int b = threadIdx.x; b < radix_bins; b += blockDim.x) local += s.histogram[b];
  const unsigned total = blockSum(local, s.warp_counts);
  const unsigned want = total < (unsigned)k ? total : (unsigned)k;

  // Invariant: `above` keys exceed `prefix` in the bits of `prefix_mask`,
  // `matching` equal it, and the want-th largest is the `remaining`-th of those.
  uint32_t prefix = 0, prefix_mask = 0;
  unsigned above = 0, matching = total, remaining = want;
  for (int pass = 0; pass < 3 && want > 0 && above + matching > (unsigned)k_max; ++pass) {
    const int bins = 1 << widthOf(pass);
    if (pass > 0) {
      for (int b = threadIdx.x; b < bins; b += blockDim.x) s.histogram[b] = 0;
      __syncthreads();
      for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
        const int32_t id = idAt(p);
        const float score = row[id];
        if (!eligible(score, id, mask)) continue;
        const uint32_t key = keyOf(score);
        if ((key & prefix_mask) == prefix) atomicAdd(&s.histogram[(key >> shiftOf(pass)) & (bins - 1)], 1u);
      }
      __syncthreads();
    }
    selectDigit(s, bins, remaining);
    const unsigned digit = s.selected_digit, in_pass = s.above_in_pass;
    matching = s.histogram[digit];
    above += in_pass;
    remaining -= in_pass;
    prefix |= digit << shiftOf(pass);
    prefix_mask |= (uint32_t)(bins - 1) << shiftOf(pass);
    __syncthreads();  // before the histogram and the selection are written again
  }

  // When they fit: every key at or above `prefix`. Otherwise (more than
  // k_max exact ties at the want-th key) those above it, then `remaining`
  // of the ties in increasing id.
  const bool fits = above + matching <= (unsigned)k_max;
  if (threadIdx.x == 0) s.taken = 0;
  __syncthreads();
  if (want > 0) {
    for (int64_t p = threadIdx.x; p < positions; p += blockDim.x) {
      const int32_t id = idAt(p);
      const float score = row[id];
      if (!eligible(score, id, mask)) continue;
      const uint32_t key = keyOf(score);
      if (fits ? (key & prefix_mask) >= prefix : key > prefix) {
        const unsigned slot = atomicAdd(&s.taken, 1u);
        s.keys[slot] = key;
        s.ids[slot] = id;
      }
    }
  }
  __syncthreads();
  if (!fits) {
    unsigned equal_taken = 0;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int64_t base = 0; base < positions && equal_taken < remaining; base += blockDim.x) {
      const int64_t p = base + threadIdx.x;
      bool equal = false;
      int32_t id = 0;
      if (p < positions) {
        id = idAt(p);
        const float score = row[id];
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
        s.keys[above + rank] = prefix;
        s.ids[above + rank] = id;
      }
      equal_taken += chunk_total;
      __syncthreads();
    }
  }
  __syncthreads();
  // Bitonic sort of the collected entries, padded to a power of two with entries that rank last.
  const int collected = fits ? (int)(above + matching) : (int)want;
  int size = 1;
  while (size < collected) size <<= 1;
  for (int i = collected + threadIdx.x; i < size; i += blockDim.x) {
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
    size_t free_bytes = 0, total_bytes = 0;
    TC_CUDA(call, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const size_t per_query = sizeof(float) * (size_t)nt + 8 * (size_t)k;
    // Queries per block: the scores and outputs in half the free memory, at most 8192
    // and fewer than 2^31 scores, so no index into the block overflows a 32-bit int.
    int64_t block = std::min<int64_t>(nq, std::min<int64_t>(8192, (int64_t)(free_bytes / 2 / per_query)));
    block = std::min<int64_t>(block, std::max<int64_t>(1, INT32_MAX / std::max<int64_t>(nt, 1)));
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
