// Shared by every .cu file of libtacit_cuda: statuses with their messages
// (kept with the call, tacit_cuda.h), CUDA and cuBLAS error checks, the
// cancellation flag, factor storage types, block reductions.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "tacit_cuda.h"

namespace tacit {

// Writes a message into the call's buffer and returns `status`.
inline int32_t fail(tc_call *call, int32_t status, const char *format, ...) {
  if (call && call->message && call->message_capacity > 0) {
    va_list list;
    va_start(list, format);
    int n = vsnprintf(call->message, call->message_capacity, format, list);
    va_end(list);
    if (n < 0) n = 0;
    call->message_len = n < (int)call->message_capacity ? (uint32_t)n : call->message_capacity - 1;
  }
  return status;
}

// A CUDA error as a status: allocation failures are TC_OUT_OF_MEMORY, a
// missing driver or device TC_UNAVAILABLE, everything else TC_LAUNCH.
inline int32_t cudaFailure(tc_call *call, cudaError_t error, const char *what) {
  cudaGetLastError();  // clears a sticky non-fatal error for the next call
  int32_t status = TC_LAUNCH;
  if (error == cudaErrorMemoryAllocation) status = TC_OUT_OF_MEMORY;
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver ||
      error == cudaErrorInitializationError)
    status = TC_UNAVAILABLE;
  return fail(call, status, "%s: %s (%s)", what, cudaGetErrorString(error), cudaGetErrorName(error));
}

inline const char *cublasName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}

#define TC_CUDA(call_, expr, what)                            \
  do {                                                        \
    cudaError_t error_ = (expr);                              \
    if (error_ != cudaSuccess) return cudaFailure(call_, error_, what); \
  } while (0)

#define TC_CUBLAS(call_, expr, what)                                                  \
  do {                                                                                \
    cublasStatus_t s_ = (expr);                                                       \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                  \
      return fail(call_, s_ == CUBLAS_STATUS_ALLOC_FAILED ? TC_OUT_OF_MEMORY : TC_LAUNCH, \
                  "%s: %s", what, cublasName(s_));                                    \
  } while (0)

#define TC_TRY(expr)                   \
  do {                                 \
    int32_t status_ = (expr);          \
    if (status_ != TC_OK) return status_; \
  } while (0)

inline bool cancelled(const tc_call *call) { return call && call->cancel && *call->cancel != 0; }

// A device allocation that frees itself; `what` names it in the message
// when it does not fit, with the bytes asked and the bytes free.
struct DeviceBuffer {
  void *pointer = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { if (pointer) cudaFree(pointer); }
  int32_t allocate(tc_call *call, size_t bytes, const char *what) {
    if (pointer) { cudaFree(pointer); pointer = nullptr; }
    if (bytes == 0) bytes = 1;
    cudaError_t error = cudaMalloc(&pointer, bytes);
    if (error != cudaSuccess) {
      cudaGetLastError();
      pointer = nullptr;
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      return fail(call, error == cudaErrorMemoryAllocation ? TC_OUT_OF_MEMORY : TC_LAUNCH,
                  "GPU out of memory: %s needs %zu bytes but %zu of %zu are free", what, bytes,
                  free_bytes, total_bytes);
    }
    return TC_OK;
  }
  template <typename T> T *as() const { return static_cast<T *>(pointer); }
};

// One cuBLAS handle per call: calls may run on different host threads.
struct Blas {
  cublasHandle_t handle = nullptr;
  ~Blas() { if (handle) cublasDestroy(handle); }
  int32_t open(tc_call *call) {
    TC_CUBLAS(call, cublasCreate(&handle), "cublasCreate");
    return TC_OK;
  }
};

// Factor storage: arithmetic is float32 whatever the stored type.
__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T fromFloat(float v);
template <> __device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

inline size_t dtypeBytes(int32_t dtype) { return dtype == TC_FLOAT32 ? 4 : 2; }

// Runs `body.template operator()<T>()` with T the storage type of `dtype`.
template <typename Body> int32_t withStorage(tc_call *call, int32_t dtype, Body body) {
  switch (dtype) {
    case TC_FLOAT32: return body((float *)nullptr);
    case TC_FLOAT16: return body((__half *)nullptr);
    case TC_BFLOAT16: return body((__nv_bfloat16 *)nullptr);
    default: return fail(call, TC_INVALID, "Expected dtype 0 (float32), 1 (float16) or 2 (bfloat16) but found %d", dtype);
  }
}

// The sum of `v` over the warp, returned to every lane.
template <typename T> __device__ __forceinline__ T warpSum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of `v` over the block, returned to every thread. `shared` holds
// one value per warp; the block size is a multiple of 32.
template <typename T> __device__ T blockSum(T v, T *shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warpSum(v);
  __syncthreads();  // `shared` may still be read by a previous blockSum
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = 0;
  for (int w = 0; w < warps; ++w) total += shared[w];
  return total;
}

inline int roundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace tacit
