// One BPR epoch on the GPU: the sampling, verification and step of
// zig/bpr.zig (Rendle et al. 2009, §4.3; implicit's layout, the last factor
// column a bias the user holds at 1), Hogwild across warps (Niu et al. 2011).
//
// A warp runs one sample at a time: its lanes draw the same numbers from the
// warp's own generator (splitmix64 of the seed and the warp's index, so a
// seed fixes every warp's stream), binary-search the user's sorted row for
// the negative together, and own the factor columns lane, lane + 32, ... for
// the dot product (a shuffle reduction) and the three rows' updates.
#include "common.cuh"

#include <algorithm>

using namespace tacit;

namespace {

struct SplitMix {
  uint64_t state;
  __device__ __forceinline__ uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by the multiply-shift of the top 32 bits (n < 2^32).
  __device__ __forceinline__ uint64_t below(uint64_t n) { return ((next() >> 32) * n) >> 32; }
};

__device__ __forceinline__ bool rowHas(const int32_t *indices, int begin, int end, int32_t item) {
  while (begin < end) {
    int middle = (begin + end) >> 1;
    int32_t value = indices[middle];
    if (value == item) return true;
    if (value < item) begin = middle + 1; else end = middle;
  }
  return false;
}

__global__ void bprSamples(const int32_t *indptr, const int32_t *indices, const int32_t *row_of, int64_t nnz,
                           float *users, float *items, int f, bool verify, float rate, float regularization,
                           int64_t samples_per_warp, int64_t samples_total, uint64_t seed, uint64_t warp_offset, uint64_t warp_end,
                           unsigned long long *counts) {
  const int lane = threadIdx.x & 31;
  const uint64_t warp = warp_offset + (blockIdx.x * (uint64_t)blockDim.x + threadIdx.x) / 32;
  if (warp >= warp_end) return;
  SplitMix random{seed ^ (0xd1b54a32d192ed03ull * (warp + 1))};
  const int64_t first = (int64_t)warp * samples_per_warp;
  const int64_t last = min(samples_total, first + samples_per_warp);
  unsigned long long correct = 0, skipped = 0;
  for (int64_t sample = first; sample < last; ++sample) {
    const int64_t liked_nz = (int64_t)random.below(nnz), negative_nz = (int64_t)random.below(nnz);
    const int32_t user = row_of[liked_nz], liked = indices[liked_nz], disliked = indices[negative_nz];
    if (disliked == liked || (verify && rowHas(indices, indptr[user], indptr[user + 1], disliked))) {
      ++skipped;
      continue;
    }
    float *u = users + (size_t)user * f, *l = items + (size_t)liked * f, *d = items + (size_t)disliked * f;
    float score = 0.0f;
    for (int j = lane; j < f; j += 32) score += u[j] * (l[j] - d[j]);
    score = warpSum(score);
    // z = 1 − σ(x̂) = σ(−x̂).
    const float z = 1.0f / (1.0f + expf(score));
    for (int j = lane; j < f; j += 32) {
      const float uj = u[j], lj = l[j], dj = d[j];
      if (j != f - 1) u[j] = uj - rate * (-z * (lj - dj) + regularization * uj);
      l[j] = lj - rate * (-z * uj + regularization * lj);
      d[j] = dj - rate * (z * uj + regularization * dj);
    }
    correct += score > 0.0f;
  }
  if (lane == 0) {
    atomicAdd(&counts[0], correct);
    atomicAdd(&counts[1], skipped);
  }
}

}  // namespace

extern "C" int32_t tacit_cuda_bpr_epoch(tc_call *call, tc_bpr_args *args) {
  args->out_correct = 0;
  args->out_skipped = 0;
  if (args->f < 1 || args->f > 1024) return fail(call, TC_INVALID, "Expected f in 1..1024 but found %d", args->f);
  if (args->n_samples == 0) return TC_OK;
  if (args->likes.nnz < 1) return fail(call, TC_INVALID, "Expected at least one liked item to sample");
  int device = 0, multiprocessors = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  DeviceBuffer counts;
  TC_TRY(counts.allocate(call, 2 * sizeof(unsigned long long), "the BPR counts"));
  TC_CUDA(call, cudaMemset(counts.pointer, 0, 2 * sizeof(unsigned long long)), "cudaMemset (BPR counts)");
  // Enough warps to fill the device; each launch covers a slice of them so the
  // cancellation flag is read every few million samples.
  const int threads = 256, warps_per_block = threads / 32;
  // At most one warp per 8 rows (users + items): Hogwild relies on two
  // concurrent steps rarely touching the same row, which a small matrix under
  // thousands of warps would break.
  const int64_t rows = args->likes.n_rows + args->likes.n_cols;
  const int64_t warps = std::max<int64_t>(
      1, std::min<int64_t>({args->n_samples, (int64_t)std::max(1, multiprocessors) * 64, std::max<int64_t>(32, rows / 8)}));
  const int64_t samples_per_warp = (args->n_samples + warps - 1) / warps;
  const int64_t warps_per_launch = std::max<int64_t>(warps_per_block, std::min<int64_t>(warps, (1 << 22) / std::max<int64_t>(1, samples_per_warp)));
  for (int64_t w0 = 0; w0 < warps; w0 += warps_per_launch) {
    if (cancelled(call)) return fail(call, TC_CANCELLED, "cancelled");
    const int64_t n = std::min(warps_per_launch, warps - w0);
    const unsigned blocks = (unsigned)((n + warps_per_block - 1) / warps_per_block);
    bprSamples<<<blocks, threads>>>(args->likes.device_indptr, args->likes.device_indices, args->device_row_of,
                                     args->likes.nnz, args->device_user_factors, args->device_item_factors, args->f,
                                     args->verify_negatives != 0, args->learning_rate, args->regularization,
                                     samples_per_warp, args->n_samples, args->seed, (uint64_t)w0, (uint64_t)(w0 + n), counts.as<unsigned long long>());
    TC_CUDA(call, cudaGetLastError(), "the BPR kernel launch");
    TC_CUDA(call, cudaDeviceSynchronize(), "the BPR kernel");
  }
  unsigned long long host[2];
  TC_CUDA(call, cudaMemcpy(host, counts.pointer, sizeof(host), cudaMemcpyDeviceToHost), "cudaMemcpy (BPR counts)");
  args->out_correct = (int64_t)host[0];
  args->out_skipped = (int64_t)host[1];
  return TC_OK;
}
