// The device and its memory: probe, allocation, copies, and the conversion
// of float32 host factors to and from their device storage type.
#include "common.cuh"

#include <cstring>

using namespace tacit;

extern "C" int32_t tacit_cuda_abi_version(void) { return TACIT_CUDA_ABI_VERSION; }

extern "C" int32_t tacit_cuda_probe(tc_call *call, tc_device_info *out) {
  std::memset(out, 0, sizeof(*out));
  cudaDriverGetVersion(&out->driver_version);
  cudaRuntimeGetVersion(&out->runtime_version);
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess && out->driver_version == 0) {
    cudaGetLastError();
    return fail(call, TC_UNAVAILABLE, "no NVIDIA driver is installed (libcuda.so.1 was not found; %s)", cudaGetErrorName(error));
  }
  if (error != cudaSuccess) {
    cudaGetLastError();
    return fail(call, TC_UNAVAILABLE, "cudaGetDeviceCount failed: %s (%s; driver supports CUDA %d.%d, runtime %d.%d)",
                cudaGetErrorString(error), cudaGetErrorName(error), out->driver_version / 1000,
                out->driver_version % 1000 / 10, out->runtime_version / 1000, out->runtime_version % 1000 / 10);
  }
  if (count == 0) return fail(call, TC_UNAVAILABLE, "no CUDA device is present");
  out->device_count = count;
  cudaDeviceProp properties;
  TC_CUDA(call, cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  out->compute_major = properties.major;
  out->compute_minor = properties.minor;
  out->multiprocessors = properties.multiProcessorCount;
  std::strncpy(out->name, properties.name, sizeof(out->name) - 1);
  size_t free_bytes = 0, total_bytes = 0;
  TC_CUDA(call, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  out->memory_free = free_bytes;
  out->memory_total = total_bytes;
  // The library carries sm_80 and sm_90 machine code and compute_80 PTX: an
  // older GPU cannot run it (and a newer one needs the PTX JIT of its driver).
  if (properties.major < 8) {
    return fail(call, TC_UNAVAILABLE, "device 0 (%s) has compute capability %d.%d; tacit's CUDA kernels need 8.0 or newer",
                properties.name, properties.major, properties.minor);
  }
  return TC_OK;
}

extern "C" int32_t tacit_cuda_alloc(tc_call *call, uint64_t bytes, const char *what, void **out_device) {
  *out_device = nullptr;
  cudaError_t error = cudaMalloc(out_device, bytes == 0 ? 1 : bytes);
  if (error != cudaSuccess) {
    cudaGetLastError();
    *out_device = nullptr;
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    return fail(call, error == cudaErrorMemoryAllocation ? TC_OUT_OF_MEMORY : TC_LAUNCH,
                "GPU out of memory: %s needs %llu bytes but %zu of %zu are free (%s)", what ? what : "a buffer",
                (unsigned long long)bytes, free_bytes, total_bytes, cudaGetErrorName(error));
  }
  return TC_OK;
}

extern "C" void tacit_cuda_free(void *device) {
  if (device) cudaFree(device);
}

extern "C" int32_t tacit_cuda_memory(tc_call *call, uint64_t *out_free, uint64_t *out_total) {
  size_t free_bytes = 0, total_bytes = 0;
  TC_CUDA(call, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  *out_free = free_bytes;
  *out_total = total_bytes;
  return TC_OK;
}

extern "C" int32_t tacit_cuda_copy(tc_call *call, void *to, const void *from, uint64_t bytes, int32_t direction) {
  if (bytes == 0) return TC_OK;
  const cudaMemcpyKind kinds[] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice};
  if (direction < 0 || direction > 2) return fail(call, TC_INVALID, "Expected direction 0, 1 or 2 but found %d", direction);
  TC_CUDA(call, cudaMemcpy(to, from, bytes, kinds[direction]), "cudaMemcpy");
  return TC_OK;
}

template <typename T> __global__ void narrowKernel(T *to, const float *from, uint64_t count) {
  for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < count; i += (uint64_t)gridDim.x * blockDim.x)
    to[i] = fromFloat<T>(from[i]);
}

template <typename T> __global__ void widenKernel(float *to, const T *from, uint64_t count) {
  for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < count; i += (uint64_t)gridDim.x * blockDim.x)
    to[i] = toFloat(from[i]);
}

// Converts through a float32 staging buffer on the device, in slices so a
// large matrix needs only a bounded extra allocation.
static const uint64_t staging_count = 1u << 24;

extern "C" int32_t tacit_cuda_upload_factors(tc_call *call, void *device, const float *host, uint64_t count, int32_t dtype) {
  if (dtype == TC_FLOAT32) return tacit_cuda_copy(call, device, host, count * 4, 0);
  return withStorage(call, dtype, [&](auto *tag) -> int32_t {
    using T = std::remove_pointer_t<decltype(tag)>;
    DeviceBuffer staging;
    TC_TRY(staging.allocate(call, std::min(count, staging_count) * 4, "the factor upload's staging buffer"));
    for (uint64_t start = 0; start < count; start += staging_count) {
      uint64_t n = std::min(staging_count, count - start);
      TC_CUDA(call, cudaMemcpy(staging.pointer, host + start, n * 4, cudaMemcpyHostToDevice), "cudaMemcpy (factors to the GPU)");
      narrowKernel<T><<<(unsigned)std::min<uint64_t>((n + 255) / 256, 65535), 256>>>(static_cast<T *>(device) + start, staging.as<float>(), n);
      TC_CUDA(call, cudaGetLastError(), "the factor conversion kernel");
    }
    TC_CUDA(call, cudaDeviceSynchronize(), "the factor conversion kernel");
    return TC_OK;
  });
}

extern "C" int32_t tacit_cuda_download_factors(tc_call *call, float *host, const void *device, uint64_t count, int32_t dtype) {
  if (dtype == TC_FLOAT32) return tacit_cuda_copy(call, host, device, count * 4, 1);
  return withStorage(call, dtype, [&](auto *tag) -> int32_t {
    using T = std::remove_pointer_t<decltype(tag)>;
    DeviceBuffer staging;
    TC_TRY(staging.allocate(call, std::min(count, staging_count) * 4, "the factor download's staging buffer"));
    for (uint64_t start = 0; start < count; start += staging_count) {
      uint64_t n = std::min(staging_count, count - start);
      widenKernel<T><<<(unsigned)std::min<uint64_t>((n + 255) / 256, 65535), 256>>>(staging.as<float>(), static_cast<const T *>(device) + start, n);
      TC_CUDA(call, cudaGetLastError(), "the factor conversion kernel");
      TC_CUDA(call, cudaMemcpy(host + start, staging.pointer, n * 4, cudaMemcpyDeviceToHost), "cudaMemcpy (factors from the GPU)");
    }
    return TC_OK;
  });
}
