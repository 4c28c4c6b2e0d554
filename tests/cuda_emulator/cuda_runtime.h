// A CPU stand-in for the parts of the CUDA runtime that cuda/*.cu use, so the
// kernels can run, block after block, with every thread a fiber
// (emulator.cpp): __syncthreads and the warp intrinsics are real barriers, so
// a divergent barrier deadlocks and is reported. Test-only: it checks the
// kernels' logic against the CPU path; the GPU's memory model, timing and
// races are not emulated. Built by scripts/build_cuda_emulated.sh.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(unsigned x_) : x(x_) {}
};

namespace tacit_emu {
struct Fiber;
extern thread_local dim3 threadIdx_, blockIdx_, blockDim_, gridDim_;
void syncBlock();
int syncBlockOr(int value);
int syncBlockCount(int value);
// A lane's value from lane ^ offset (or lane + offset when `down`; its own when that lane is past the warp).
uint64_t warpExchange(uint64_t value, int offset, bool is_ballot, bool predicate, bool down = false);
void run(dim3 grid, dim3 block, size_t shared_bytes, void (*body)(void *), void *context);
extern unsigned char shared_memory[];
}  // namespace tacit_emu

#define threadIdx tacit_emu::threadIdx_
#define blockIdx tacit_emu::blockIdx_
#define blockDim tacit_emu::blockDim_
#define gridDim tacit_emu::gridDim_

inline void __syncthreads() { tacit_emu::syncBlock(); }
inline int __syncthreads_or(int v) { return tacit_emu::syncBlockOr(v); }
inline int __syncthreads_count(int v) { return tacit_emu::syncBlockCount(v); }

inline float __shfl_xor_sync(unsigned, float v, int offset) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  uint64_t out = tacit_emu::warpExchange(bits, offset, false, false);
  uint32_t got = (uint32_t)out;
  float r;
  std::memcpy(&r, &got, 4);
  return r;
}
inline double __shfl_xor_sync(unsigned, double v, int offset) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  uint64_t out = tacit_emu::warpExchange(bits, offset, false, false);
  double r;
  std::memcpy(&r, &out, 8);
  return r;
}
inline unsigned __shfl_xor_sync(unsigned, unsigned v, int offset) {
  return (unsigned)tacit_emu::warpExchange(v, offset, false, false);
}
inline unsigned __shfl_down_sync(unsigned, unsigned v, int offset) {
  return (unsigned)tacit_emu::warpExchange(v, offset, false, false, true);
}
inline unsigned __ballot_sync(unsigned, int predicate) {
  return (unsigned)tacit_emu::warpExchange(0, 0, true, predicate != 0);
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline uint32_t __float_as_uint(float v) { uint32_t b; std::memcpy(&b, &v, 4); return b; }
inline float __uint_as_float(uint32_t b) { float v; std::memcpy(&v, &b, 4); return v; }
inline float __int_as_float(int b) { float v; std::memcpy(&v, &b, 4); return v; }

// Fibers never run at the same time: atomics are plain read-modify-writes.
inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned old = *p; *p = old + v; return old; }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) { unsigned long long old = *p; *p = old + v; return old; }
inline int atomicMin(int *p, int v) { int old = *p; if (v < old) *p = v; return old; }

template <typename A, typename B> inline std::common_type_t<A, B> min(A a, B b) { return a < b ? a : b; }
template <typename A, typename B> inline std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }
using std::isfinite;
using std::isnan;

typedef enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
} cudaError_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType;
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
};

cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *to, const void *from, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t);
const char *cudaGetErrorName(cudaError_t);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attribute, int device);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *properties, int device);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaRuntimeGetVersion(int *version);
template <typename F> cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }

namespace tacit_emu {
// kernel<<<grid, block, shared>>>(args...) becomes launch(grid, block, shared, kernel, args...).
template <typename Kernel, typename... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, Kernel kernel, Args... args) {
  auto bound = [&]() { kernel(args...); };
  using Bound = decltype(bound);
  run(grid, block, shared_bytes, [](void *c) { (*static_cast<Bound *>(c))(); }, &bound);
}
}  // namespace tacit_emu
