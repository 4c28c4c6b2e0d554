// ALS half-sweeps on the GPU: the same model, confidence rule and
// conjugate-gradient iteration as zig/als.zig (Hu, Koren & Volinsky 2008,
// eq. 4; Takács, Pilászy & Tikk 2011, §3.2), and a batched Cholesky solver.
//
// CG: one thread block per row. The row's vectors x, r, p and A·p live in
// shared memory; each warp takes one nonzero at a time, holds its factor row
// in registers (lane l owns elements l, l + 32, ...), reduces y·p with
// shuffles and adds w·(y·p)·y into its own accumulators, so a factor row is
// read from memory once per CG step. The warps' accumulators are summed in
// shared memory and YᵀY·p (YᵀY + λI in shared memory when it fits) is added.
//
// Cholesky: rows in batches sized to the free memory; a block builds one
// row's A = YᵀY + λI + Σ (c − 1) y yᵀ from factor rows staged in shared
// memory, factors it in place (right-looking, column by column) and solves.
#include "common.cuh"

#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

using namespace tacit;

namespace {

// Warps per row: 4 for most rows; the rows tc_csr lists as long (more than
// its long_row_nnz entries: a power-law matrix's popular items) get a block
// of 32 warps in a second launch, so one long row does not hold a whole
// half-sweep up.
constexpr int cg_warps = 4;
constexpr int cg_warps_long = 32;
constexpr int no_row = 0x7fffffff;

struct Weighting {
  float alpha;
  int rule;  // 0: c = alpha·|v|, 1: c = 1 + alpha·|v|
  __device__ __forceinline__ float confidence(float value) const {
    float scaled = alpha * fabsf(value);
    return rule == 0 ? scaled : 1.0f + scaled;
  }
};

// G = YᵀY + ridge·I (f × f, float32), Y row-major [n, f] of storage T.
template <typename T> __global__ void addRidge(float *gram, int f, float ridge) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < f) gram[(size_t)i * f + i] += ridge;
}

template <typename T> int32_t gram(tc_call *call, cublasHandle_t blas, const T *y, int64_t n, int f, float ridge, float *out) {
  const float one = 1.0f, zero = 0.0f;
  // Row-major Y [n, f] is column-major f × n: G = Y_c · Y_cᵀ.
  cudaDataType type = sizeof(T) == 4 ? CUDA_R_32F : (std::is_same<T, __half>::value ? CUDA_R_16F : CUDA_R_16BF);
  if (n == 0) {
    TC_CUDA(call, cudaMemset(out, 0, sizeof(float) * f * f), "cudaMemset (Gram matrix)");
  } else {
    TC_CUBLAS(call, cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_T, f, f, (int)n, &one, y, type, f, y, type, f, &zero, out,
                                 CUDA_R_32F, f, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "cublasGemmEx (YᵀY)");
  }
  addRidge<T><<<(f + 127) / 128, 128>>>(out, f, ridge);
  TC_CUDA(call, cudaGetLastError(), "the ridge kernel");
  return TC_OK;
}

template <typename T, int E> __device__ __forceinline__ void loadRow(const T *row, int f, int lane, float (&y)[E]) {
#pragma unroll
  for (int e = 0; e < E; ++e) {
    int j = lane + 32 * e;
    y[e] = j < f ? toFloat(row[j]) : 0.0f;
  }
}

// out[j] (shared) = Σ_k G[k][j] v[k] for the block's threads over j.
__device__ __forceinline__ void gramTimes(const float *gram, int f, const float *v, float *out) {
  for (int j = threadIdx.x; j < f; j += blockDim.x) {
    float sum = 0.0f;
    for (int k = 0; k < f; ++k) sum += gram[(size_t)k * f + j] * v[k];
    out[j] = sum;
  }
}

// Adds the row's nonzero terms to out (shared): with `residual`,
// Σ (t − w (y·v)) y, else Σ w (y·v) y. `partial` holds WARPS × f floats.
template <typename T, int E, int WARPS>
__device__ void addNonzeroTerms(const int32_t *indices, const float *values, int begin, int end, const T *y, int f,
                                Weighting weighting, const float *v, float *out, float *partial, bool residual) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float v_own[E], acc[E];
#pragma unroll
  for (int e = 0; e < E; ++e) {
    int j = lane + 32 * e;
    v_own[e] = j < f ? v[j] : 0.0f;
    acc[e] = 0.0f;
  }
  for (int nz = begin + warp; nz < end; nz += WARPS) {
    float y_row[E];
    loadRow<T, E>(y + (size_t)indices[nz] * f, f, lane, y_row);
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) dot += y_row[e] * v_own[e];
    dot = warpSum(dot);
    float value = values[nz];
    float confidence = weighting.confidence(value);
    float weight = confidence - 1.0f;
    float coefficient = residual ? (value > 0 ? confidence : 0.0f) - weight * dot : weight * dot;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[e] += coefficient * y_row[e];
  }
#pragma unroll
  for (int e = 0; e < E; ++e) {
    int j = lane + 32 * e;
    if (j < f) partial[warp * f + j] = acc[e];
  }
  __syncthreads();
  for (int j = threadIdx.x; j < f; j += blockDim.x) {
    float sum = out[j];
    for (int w = 0; w < WARPS; ++w) sum += partial[w * f + j];
    out[j] = sum;
  }
  __syncthreads();
}

__device__ float sharedDot(const float *a, const float *b, int f, float *reduce) {
  float sum = 0.0f;
  for (int j = threadIdx.x; j < f; j += blockDim.x) sum += a[j] * b[j];
  return blockSum(sum, reduce);
}

// One block per row of [row_begin, row_end) — the rows themselves, or with
// `row_list` the rows it lists at those positions; without a list, rows of
// more than `skip_nnz` nonzeros are left to the long-row launch. See the
// file's comment.
template <typename T, int E, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) conjugateGradientRows(
    const int32_t *indptr, const int32_t *indices, const float *values, int64_t row_begin, int64_t row_end,
    const int32_t *row_list, int skip_nnz, T *x, const T *y, int f, const float *gram_global, bool gram_in_shared,
    Weighting weighting, int cg_steps, int *failed_row) {
  extern __shared__ float shared[];
  float *xs = shared, *r = xs + f, *p = r + f, *ap = p + f, *partial = ap + f;
  float *reduce = partial + WARPS * f;
  float *gram_shared = reduce + 32;
  const float *gram = gram_in_shared ? gram_shared : gram_global;
  if (gram_in_shared) {
    for (int i = threadIdx.x; i < f * f; i += blockDim.x) gram_shared[i] = gram_global[i];
  }
  for (int64_t position = row_begin + blockIdx.x; position < row_end; position += gridDim.x) {
    const int64_t row = row_list ? row_list[position] : position;
    const int begin = indptr[row], end = indptr[row + 1];
    if (!row_list && end - begin > skip_nnz) continue;
    T *x_row = x + (size_t)row * f;
    __syncthreads();
    if (begin == end) {
      for (int j = threadIdx.x; j < f; j += blockDim.x) x_row[j] = fromFloat<T>(0.0f);
      continue;
    }
    for (int j = threadIdx.x; j < f; j += blockDim.x) xs[j] = toFloat(x_row[j]);
    __syncthreads();
    // r = b − A x = −G x + Σ (t − w (y·x)) y.
    gramTimes(gram, f, xs, r);
    for (int j = threadIdx.x; j < f; j += blockDim.x) r[j] = -r[j];
    __syncthreads();
    addNonzeroTerms<T, E, WARPS>(indices, values, begin, end, y, f, weighting, xs, r, partial, true);
    for (int j = threadIdx.x; j < f; j += blockDim.x) p[j] = r[j];
    float residual_old = sharedDot(r, r, f, reduce);
    bool finite = isfinite(residual_old);
    for (int step = 0; finite && step < cg_steps; ++step) {
      if (residual_old < 1e-20f) break;
      __syncthreads();
      gramTimes(gram, f, p, ap);
      __syncthreads();
      addNonzeroTerms<T, E, WARPS>(indices, values, begin, end, y, f, weighting, p, ap, partial, false);
      float curvature = sharedDot(p, ap, f, reduce);
      if (!isfinite(curvature)) { finite = false; break; }
      if (!(curvature > 0.0f)) break;
      float alpha = residual_old / curvature;
      for (int j = threadIdx.x; j < f; j += blockDim.x) {
        xs[j] += alpha * p[j];
        r[j] -= alpha * ap[j];
      }
      float residual_new = sharedDot(r, r, f, reduce);
      if (residual_new < 1e-20f) break;
      float beta = residual_new / residual_old;
      for (int j = threadIdx.x; j < f; j += blockDim.x) p[j] = r[j] + beta * p[j];
      residual_old = residual_new;
    }
    __syncthreads();
    bool row_finite = finite;
    if (row_finite) {
      int bad = 0;
      for (int j = threadIdx.x; j < f; j += blockDim.x) bad |= !isfinite(xs[j]);
      row_finite = __syncthreads_or(bad) == 0;
    }
    if (!row_finite) {
      if (threadIdx.x == 0) atomicMin(failed_row, (int)row);
    } else {
      for (int j = threadIdx.x; j < f; j += blockDim.x) x_row[j] = fromFloat<T>(xs[j]);
    }
  }
}

// Cholesky: one block per row of the batch; `systems` holds a f × f matrix
// per block slot. Shared: b (f), a staging tile of factor rows and weights.
template <typename T>
__global__ void choleskyRows(const int32_t *indptr, const int32_t *indices, const float *values, int64_t row_begin,
                             int64_t row_end, T *x, const T *y, int f, const float *gram, Weighting weighting,
                             float *systems, int tile_rows, int *failed_row) {
  extern __shared__ float shared[];
  float *b = shared, *tile = b + f, *tile_weights = tile + (size_t)tile_rows * f, *flag = tile_weights + tile_rows;
  float *a = systems + (size_t)blockIdx.x * f * f;
  const int ff = f * f;
  for (int64_t row = row_begin + blockIdx.x; row < row_end; row += gridDim.x) {
    const int begin = indptr[row], end = indptr[row + 1];
    T *x_row = x + (size_t)row * f;
    __syncthreads();
    if (begin == end) {
      for (int j = threadIdx.x; j < f; j += blockDim.x) x_row[j] = fromFloat<T>(0.0f);
      continue;
    }
    for (int i = threadIdx.x; i < ff; i += blockDim.x) a[i] = gram[i];
    for (int j = threadIdx.x; j < f; j += blockDim.x) b[j] = 0.0f;
    for (int first = begin; first < end; first += tile_rows) {
      const int count = min(tile_rows, end - first);
      __syncthreads();
      for (int i = threadIdx.x; i < count * f; i += blockDim.x) {
        int r = i / f, j = i - r * f;
        tile[i] = toFloat(y[(size_t)indices[first + r] * f + j]);
      }
      for (int r = threadIdx.x; r < count; r += blockDim.x) {
        float value = values[first + r];
        tile_weights[r] = weighting.confidence(value) - 1.0f;
      }
      __syncthreads();
      // A[i][j] += Σ_r w_r y_r[i] y_r[j]; b[j] += Σ_r t_r y_r[j].
      for (int e = threadIdx.x; e < ff; e += blockDim.x) {
        int i = e / f, j = e - i * f;
        float sum = 0.0f;
        for (int r = 0; r < count; ++r) sum += tile_weights[r] * tile[r * f + i] * tile[r * f + j];
        a[e] += sum;
      }
      for (int j = threadIdx.x; j < f; j += blockDim.x) {
        float sum = 0.0f;
        for (int r = 0; r < count; ++r) {
          float value = values[first + r];
          sum += (value > 0 ? weighting.confidence(value) : 0.0f) * tile[r * f + j];
        }
        b[j] += sum;
      }
    }
    __syncthreads();
    // In place: the lower triangle becomes L with A = L Lᵀ.
    if (threadIdx.x == 0) flag[0] = 0.0f;
    for (int j = 0; j < f; ++j) {
      __syncthreads();
      if (threadIdx.x == 0) {
        float d = a[(size_t)j * f + j];
        if (!(d > 0.0f) || !isfinite(d)) flag[0] = 1.0f;
        a[(size_t)j * f + j] = sqrtf(fmaxf(d, 1e-30f));
      }
      __syncthreads();
      if (flag[0] != 0.0f) break;
      const float pivot = a[(size_t)j * f + j];
      for (int i = j + 1 + threadIdx.x; i < f; i += blockDim.x) a[(size_t)i * f + j] /= pivot;
      __syncthreads();
      const int m = f - j - 1;
      for (int e = threadIdx.x; e < m * m; e += blockDim.x) {
        int i = j + 1 + e / m, k = j + 1 + e % m;
        if (k <= i) a[(size_t)i * f + k] -= a[(size_t)i * f + j] * a[(size_t)k * f + j];
      }
    }
    __syncthreads();
    if (flag[0] != 0.0f) {
      if (threadIdx.x == 0) atomicMin(failed_row, (int)row);
      for (int j = threadIdx.x; j < f; j += blockDim.x) x_row[j] = fromFloat<T>(0.0f);
      continue;
    }
    // L z = b, then Lᵀ x = z, in b.
    for (int j = 0; j < f; ++j) {
      if (threadIdx.x == 0) b[j] /= a[(size_t)j * f + j];
      __syncthreads();
      for (int i = j + 1 + threadIdx.x; i < f; i += blockDim.x) b[i] -= a[(size_t)i * f + j] * b[j];
      __syncthreads();
    }
    for (int j = f - 1; j >= 0; --j) {
      if (threadIdx.x == 0) b[j] /= a[(size_t)j * f + j];
      __syncthreads();
      for (int i = threadIdx.x; i < j; i += blockDim.x) b[i] -= a[(size_t)j * f + i] * b[j];
      __syncthreads();
    }
    int bad = 0;
    for (int j = threadIdx.x; j < f; j += blockDim.x) bad |= !isfinite(b[j]);
    if (__syncthreads_or(bad)) {
      if (threadIdx.x == 0) atomicMin(failed_row, (int)row);
    } else {
      for (int j = threadIdx.x; j < f; j += blockDim.x) x_row[j] = fromFloat<T>(b[j]);
    }
  }
}

// One launch of the CG kernel over positions [0, n) in batches (the
// cancellation flag is read between them): the rows, or `row_list`'s.
template <typename T, int E, int WARPS>
int32_t launchRows(tc_call *call, const tc_als_args *args, const T *y, T *x, const float *gram, int *failed_row,
                   int64_t n, const int32_t *row_list, int skip_nnz) {
  const int f = args->f;
  const size_t vectors_bytes = sizeof(float) * ((4 + WARPS) * (size_t)f + 32);
  const size_t gram_bytes = sizeof(float) * (size_t)f * f;
  int device = 0, shared_max = 0, multiprocessors = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&shared_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  // YᵀY in shared memory only while several blocks still fit an SM.
  const bool gram_in_shared = vectors_bytes + gram_bytes <= 40 * 1024;
  const size_t shared_bytes = vectors_bytes + (gram_in_shared ? gram_bytes : 0);
  if ((int)shared_bytes > shared_max) return fail(call, TC_INVALID, "CG needs %zu bytes of shared memory per block, more than the %d the device allows", shared_bytes, shared_max);
  TC_CUDA(call, cudaFuncSetAttribute(conjugateGradientRows<T, E, WARPS>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared_bytes), "cudaFuncSetAttribute (CG)");
  // Batches bound the time between two looks at the cancellation flag.
  const int64_t batch_rows = WARPS == cg_warps ? 1 << 16 : 1 << 10;
  const int grid = std::max(1, multiprocessors) * (WARPS == cg_warps ? 16 : 2);
  for (int64_t begin = 0; begin < n; begin += batch_rows) {
    if (cancelled(call)) return fail(call, TC_CANCELLED, "cancelled");
    const int64_t end = std::min(n, begin + batch_rows);
    const int blocks = (int)std::min<int64_t>(grid, end - begin);
    conjugateGradientRows<T, E, WARPS><<<blocks, WARPS * 32, shared_bytes>>>(
        args->ratings.device_indptr, args->ratings.device_indices, args->ratings.device_values, begin, end, row_list,
        skip_nnz, x, y, f, gram, gram_in_shared, Weighting{args->alpha, args->confidence}, args->cg_steps, failed_row);
    TC_CUDA(call, cudaGetLastError(), "the CG kernel launch");
    TC_CUDA(call, cudaDeviceSynchronize(), "the CG kernel");
  }
  return TC_OK;
}

// The short rows with 4 warps each, then the long ones (listed by libtacit
// when it uploaded the matrix) with 32.
template <typename T, int E>
int32_t launchConjugateGradient(tc_call *call, const tc_als_args *args, const T *y, T *x, const float *gram,
                                int *failed_row) {
  const tc_csr &ratings = args->ratings;
  const bool split = ratings.device_long_rows != nullptr && ratings.n_long_rows > 0;
  TC_TRY((launchRows<T, E, cg_warps>(call, args, y, x, gram, failed_row, ratings.n_rows, nullptr,
                                      split ? ratings.long_row_nnz : INT32_MAX)));
  if (!split) return TC_OK;
  return launchRows<T, E, cg_warps_long>(call, args, y, x, gram, failed_row, ratings.n_long_rows,
                                         ratings.device_long_rows, INT32_MAX);
}

template <typename T>
int32_t runConjugateGradient(tc_call *call, const tc_als_args *args, const T *y, T *x, const float *gram, int *failed_row) {
  const int f = args->f;
  if (f <= 32) return launchConjugateGradient<T, 1>(call, args, y, x, gram, failed_row);
  if (f <= 64) return launchConjugateGradient<T, 2>(call, args, y, x, gram, failed_row);
  if (f <= 128) return launchConjugateGradient<T, 4>(call, args, y, x, gram, failed_row);
  if (f <= 256) return launchConjugateGradient<T, 8>(call, args, y, x, gram, failed_row);
  if (f <= 512) return launchConjugateGradient<T, 16>(call, args, y, x, gram, failed_row);
  return launchConjugateGradient<T, 32>(call, args, y, x, gram, failed_row);
}

template <typename T>
int32_t runCholesky(tc_call *call, const tc_als_args *args, const T *y, T *x, const float *gram, int *failed_row) {
  const int f = args->f;
  const int threads = std::min(1024, std::max(64, roundUp(f, 32)));
  const int tile_rows = std::max(1, std::min(32, 8192 / f));
  const size_t shared_bytes = sizeof(float) * ((size_t)f + (size_t)tile_rows * f + tile_rows + 1);
  TC_CUDA(call, cudaFuncSetAttribute(choleskyRows<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared_bytes), "cudaFuncSetAttribute (Cholesky)");
  // One f × f system per resident block, as many as a quarter of the free memory holds.
  size_t free_bytes = 0, total_bytes = 0;
  TC_CUDA(call, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const size_t system_bytes = sizeof(float) * (size_t)f * f;
  int device = 0, multiprocessors = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  const int64_t slots = std::max<int64_t>(1, std::min<int64_t>((int64_t)(free_bytes / 4 / system_bytes), std::max(1, multiprocessors) * 8));
  DeviceBuffer systems;
  TC_TRY(systems.allocate(call, slots * system_bytes, "the Cholesky systems"));
  const int64_t n_rows = args->ratings.n_rows;
  const int64_t batch_rows = std::max<int64_t>(slots, 1 << 14);
  for (int64_t begin = 0; begin < n_rows; begin += batch_rows) {
    if (cancelled(call)) return fail(call, TC_CANCELLED, "cancelled");
    const int64_t end = std::min(n_rows, begin + batch_rows);
    const int blocks = (int)std::min<int64_t>(slots, end - begin);
    choleskyRows<T><<<blocks, threads, shared_bytes>>>(args->ratings.device_indptr, args->ratings.device_indices,
                                                         args->ratings.device_values, begin, end, x, y, f, gram,
                                                         Weighting{args->alpha, args->confidence}, systems.as<float>(),
                                                         tile_rows, failed_row);
    TC_CUDA(call, cudaGetLastError(), "the Cholesky kernel launch");
    TC_CUDA(call, cudaDeviceSynchronize(), "the Cholesky kernel");
  }
  return TC_OK;
}

// The loss's sums per block (deterministic: added in block order on the host).
struct LossSums {
  double weighted_error, confidence_extra, norm_x_squared;
};

template <typename T>
__global__ void lossRows(const int32_t *indptr, const int32_t *indices, const float *values, int64_t n_rows, const T *x,
                         const T *y, int f, const float *gram, Weighting weighting, LossSums *out) {
  extern __shared__ float shared[];
  float *xs = shared;
  __shared__ double reduce[32];
  double weighted = 0, extra = 0, norm = 0;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t row = blockIdx.x; row < n_rows; row += gridDim.x) {
    __syncthreads();
    for (int j = threadIdx.x; j < f; j += blockDim.x) xs[j] = toFloat(x[(size_t)row * f + j]);
    __syncthreads();
    for (int j = threadIdx.x; j < f; j += blockDim.x) {
      float gx = 0.0f;
      for (int k = 0; k < f; ++k) gx += gram[(size_t)k * f + j] * xs[k];
      weighted += (double)xs[j] * gx;
      norm += (double)xs[j] * xs[j];
    }
    const int begin = indptr[row], end = indptr[row + 1];
    for (int nz = begin + warp; nz < end; nz += warps) {
      const T *y_row = y + (size_t)indices[nz] * f;
      float s = 0.0f;
      for (int j = lane; j < f; j += 32) s += xs[j] * toFloat(y_row[j]);
      s = warpSum(s);
      if (lane == 0) {
        double score = s, confidence = weighting.confidence(values[nz]), preference = values[nz] > 0 ? 1.0 : 0.0;
        weighted += confidence * (preference - score) * (preference - score) - score * score;
        extra += confidence - 1.0;
      }
    }
  }
  double sums[3] = {weighted, extra, norm};
  double totals[3];
  for (int s = 0; s < 3; ++s) totals[s] = blockSum(sums[s], reduce);
  if (threadIdx.x == 0) out[blockIdx.x] = LossSums{totals[0], totals[1], totals[2]};
}

template <typename Body> int32_t alsPrelude(tc_call *call, int f, int dtype, Body body) {
  if (f < 1 || f > 1024) return fail(call, TC_INVALID, "Expected f in 1..1024 but found %d", f);
  return withStorage(call, dtype, body);
}

}  // namespace

extern "C" int32_t tacit_cuda_als_solve(tc_call *call, const tc_als_args *args) {
  call->failed_row = -1;
  if (args->solver != 0 && args->solver != 1) return fail(call, TC_INVALID, "Expected solver 0 (CG) or 1 (Cholesky) but found %d", args->solver);
  return alsPrelude(call, args->f, args->dtype, [&](auto *tag) -> int32_t {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int f = args->f;
    Blas blas;
    TC_TRY(blas.open(call));
    DeviceBuffer gram_buffer, failed;
    TC_TRY(gram_buffer.allocate(call, sizeof(float) * f * f, "YᵀY + λI"));
    TC_TRY(failed.allocate(call, sizeof(int), "the failure flag"));
    TC_TRY(gram<T>(call, blas.handle, static_cast<const T *>(args->device_y), args->n_other, f, args->regularization, gram_buffer.as<float>()));
    const int initial = no_row;
    TC_CUDA(call, cudaMemcpy(failed.pointer, &initial, sizeof(int), cudaMemcpyHostToDevice), "cudaMemcpy (failure flag)");
    const T *y = static_cast<const T *>(args->device_y);
    T *x = static_cast<T *>(args->device_x);
    TC_TRY(args->solver == 0 ? runConjugateGradient<T>(call, args, y, x, gram_buffer.as<float>(), failed.as<int>())
                             : runCholesky<T>(call, args, y, x, gram_buffer.as<float>(), failed.as<int>()));
    int failed_row = no_row;
    TC_CUDA(call, cudaMemcpy(&failed_row, failed.pointer, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy (failure flag)");
    if (failed_row != no_row) {
      call->failed_row = failed_row;
      return args->solver == 1
                 ? fail(call, TC_NUMERICAL, "The system of row %d is not positive definite or its solution not finite (regularization = %g); increase regularization", failed_row, args->regularization)
                 : fail(call, TC_NUMERICAL, "The solve of row %d produced a value that is not finite; the factors or the data may be too large", failed_row);
    }
    return TC_OK;
  });
}

extern "C" int32_t tacit_cuda_als_loss(tc_call *call, tc_loss_args *args) {
  return alsPrelude(call, args->f, args->dtype, [&](auto *tag) -> int32_t {
    using T = std::remove_pointer_t<decltype(tag)>;
    const int f = args->f;
    Blas blas;
    TC_TRY(blas.open(call));
    DeviceBuffer gram_buffer, sums;
    TC_TRY(gram_buffer.allocate(call, sizeof(float) * f * f, "YᵀY"));
    TC_TRY(gram<T>(call, blas.handle, static_cast<const T *>(args->device_y), args->n_other, f, 0.0f, gram_buffer.as<float>()));
    const int blocks = 1024;
    TC_TRY(sums.allocate(call, sizeof(LossSums) * blocks, "the loss's partial sums"));
    lossRows<T><<<blocks, 128, sizeof(float) * f>>>(args->ratings.device_indptr, args->ratings.device_indices,
                                                     args->ratings.device_values, args->ratings.n_rows,
                                                     static_cast<const T *>(args->device_x),
                                                     static_cast<const T *>(args->device_y), f, gram_buffer.as<float>(),
                                                     Weighting{args->alpha, args->confidence}, sums.as<LossSums>());
    TC_CUDA(call, cudaGetLastError(), "the loss kernel launch");
    std::vector<LossSums> host(blocks);
    TC_CUDA(call, cudaMemcpy(host.data(), sums.pointer, sizeof(LossSums) * blocks, cudaMemcpyDeviceToHost), "the loss kernel");
    std::vector<float> gram_host((size_t)f * f);
    TC_CUDA(call, cudaMemcpy(gram_host.data(), gram_buffer.pointer, sizeof(float) * f * f, cudaMemcpyDeviceToHost), "cudaMemcpy (YᵀY)");
    LossSums total{0, 0, 0};
    for (const LossSums &s : host) {
      total.weighted_error += s.weighted_error;
      total.confidence_extra += s.confidence_extra;
      total.norm_x_squared += s.norm_x_squared;
    }
    double norm_y_squared = 0;
    for (int i = 0; i < f; ++i) norm_y_squared += gram_host[(size_t)i * f + i];
    args->out_objective = total.weighted_error + args->regularization * (total.norm_x_squared + norm_y_squared);
    args->out_confidence_total = (double)args->ratings.n_rows * (double)args->n_other + total.confidence_extra;
    return TC_OK;
  });
}
