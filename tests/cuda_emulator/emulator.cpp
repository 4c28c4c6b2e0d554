// The emulator's runtime: each kernel block runs its threads as fibers on
// the calling OS thread, switching at every __syncthreads (block barrier) and
// warp intrinsic (warp barrier). A barrier that some live thread never reaches
// is a deadlock in the kernel: it is reported and the process aborts. Device
// memory is host memory; cublasGemmEx is a plain loop. Test-only.
//
// TACIT_EMU_ORDER sets the order in which blocks run, and in which a block's
// threads run between two barriers: "forward" (the default), "reverse" or
// "shuffle" (a fixed seed). A thread that reads what another writes without
// a barrier between them (a race on a GPU) sees the write in one order and
// not in another, so a kernel that passes in all three has no such race that
// the tests reach.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <vector>

#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

extern "C" void tacit_emu_switch(void **save_sp, void *load_sp);
asm(R"(
.text
.globl tacit_emu_switch
.type tacit_emu_switch, @function
tacit_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
)");

namespace tacit_emu {

thread_local dim3 threadIdx_, blockIdx_, blockDim_, gridDim_;
alignas(64) unsigned char shared_memory[8 << 20];

namespace {

enum class Wait { none, block, warp, done };
enum class BlockKind { plain, any, count };

struct Fiber {
  void *sp = nullptr;
  std::vector<unsigned char> stack;
  Wait wait = Wait::none;
  BlockKind block_kind = BlockKind::plain;
  int block_value = 0;
  uint64_t warp_value = 0;
  int warp_offset = 0;
  bool ballot = false, predicate = false, down = false;  // down: __shfl_down_sync, else xor
  uint64_t result = 0;
};

constexpr size_t stack_bytes = 256 * 1024;
thread_local std::vector<Fiber> fibers;
thread_local Fiber *current = nullptr;
thread_local unsigned current_index = 0;
thread_local void *scheduler_sp = nullptr;
thread_local void (*body_function)(void *) = nullptr;
thread_local void *body_context = nullptr;

void yieldToScheduler() { tacit_emu_switch(&current->sp, scheduler_sp); }

void fiberEntry() {
  body_function(body_context);
  current->wait = Wait::done;
  yieldToScheduler();
  std::abort();  // never resumed
}

void prepare(Fiber &fiber) {
  if (fiber.stack.size() != stack_bytes) fiber.stack.assign(stack_bytes, 0);
  uintptr_t top = (reinterpret_cast<uintptr_t>(fiber.stack.data()) + stack_bytes) & ~uintptr_t(15);
  void **sp = reinterpret_cast<void **>(top);
  *--sp = nullptr;                                      // fiberEntry's return address (never used)
  *--sp = reinterpret_cast<void *>(&fiberEntry);        // popped by ret
  for (int r = 0; r < 6; ++r) *--sp = nullptr;          // rbp, rbx, r12-r15
  fiber.sp = sp;
  fiber.wait = Wait::none;
}

void resume(unsigned index, unsigned threads) {
  current = &fibers[index];
  current_index = index;
  threadIdx_ = dim3(index);
  (void)threads;
  tacit_emu_switch(&scheduler_sp, current->sp);
}

// Releases every warp whose live lanes all wait at a warp barrier; true if any.
bool releaseWarps(unsigned threads) {
  bool released = false;
  for (unsigned first = 0; first < threads; first += 32) {
    const unsigned last = std::min(threads, first + 32);
    bool all = true, any = false;
    for (unsigned i = first; i < last; ++i) {
      if (fibers[i].wait == Wait::done) continue;
      if (fibers[i].wait != Wait::warp) { all = false; break; }
      any = true;
    }
    if (!all || !any) continue;
    uint32_t ballot = 0;
    for (unsigned i = first; i < last; ++i) {
      if (fibers[i].wait == Wait::warp && fibers[i].predicate) ballot |= 1u << (i - first);
    }
    for (unsigned i = first; i < last; ++i) {
      Fiber &f = fibers[i];
      if (f.wait != Wait::warp) continue;
      if (f.ballot) {
        f.result = ballot;
      } else {
        const unsigned lane = i - first;
        unsigned source = first + (f.down ? lane + (unsigned)f.warp_offset : lane ^ (unsigned)f.warp_offset);
        f.result = source < last && fibers[source].wait == Wait::warp ? fibers[source].warp_value : f.warp_value;
      }
    }
    for (unsigned i = first; i < last; ++i) {
      if (fibers[i].wait == Wait::warp) fibers[i].wait = Wait::none;
    }
    released = true;
  }
  return released;
}

bool releaseBlock(unsigned threads) {
  int any = 0, count = 0, live = 0;
  for (unsigned i = 0; i < threads; ++i) {
    if (fibers[i].wait == Wait::done) continue;
    if (fibers[i].wait != Wait::block) return false;
    ++live;
    any |= fibers[i].block_value != 0;
    count += fibers[i].block_value != 0;
  }
  if (live == 0) return false;
  for (unsigned i = 0; i < threads; ++i) {
    Fiber &f = fibers[i];
    if (f.wait != Wait::block) continue;
    f.result = f.block_kind == BlockKind::count ? (uint64_t)count : (uint64_t)any;
    f.wait = Wait::none;
  }
  return true;
}

int blockBarrier(BlockKind kind, int value) {
  current->wait = Wait::block;
  current->block_kind = kind;
  current->block_value = value;
  yieldToScheduler();
  return (int)current->result;
}

}  // namespace

void syncBlock() { blockBarrier(BlockKind::plain, 0); }
int syncBlockOr(int value) { return blockBarrier(BlockKind::any, value); }
int syncBlockCount(int value) { return blockBarrier(BlockKind::count, value); }

uint64_t warpExchange(uint64_t value, int offset, bool is_ballot, bool predicate, bool down) {
  current->wait = Wait::warp;
  current->warp_value = value;
  current->warp_offset = offset;
  current->down = down;
  current->ballot = is_ballot;
  current->predicate = predicate;
  yieldToScheduler();
  return current->result;
}

enum class Order { forward, reverse, shuffle };

Order orderFromEnvironment() {
  const char *name = std::getenv("TACIT_EMU_ORDER");
  if (name == nullptr || std::strcmp(name, "forward") == 0) return Order::forward;
  if (std::strcmp(name, "reverse") == 0) return Order::reverse;
  if (std::strcmp(name, "shuffle") == 0) return Order::shuffle;
  std::fprintf(stderr, "emulator: TACIT_EMU_ORDER must be forward, reverse or shuffle, not %s\n", name);
  std::abort();
}

// 0..count-1 in the order `order` runs them; `state` drives the shuffle.
void arrange(std::vector<unsigned> &sequence, unsigned count, Order order, uint64_t &state) {
  sequence.resize(count);
  std::iota(sequence.begin(), sequence.end(), 0u);
  if (order == Order::reverse) std::reverse(sequence.begin(), sequence.end());
  if (order != Order::shuffle) return;
  for (unsigned i = count; i > 1; --i) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
    std::swap(sequence[i - 1], sequence[state % i]);
  }
}

void run(dim3 grid, dim3 block, size_t shared_bytes, void (*body)(void *), void *context) {
  static const Order order = orderFromEnvironment();
  thread_local uint64_t state = 0x9e3779b97f4a7c15u;
  thread_local std::vector<unsigned> blocks, threads_in_order;
  const unsigned threads = block.x;
  if (threads == 0 || threads > 1024 || shared_bytes > sizeof(shared_memory)) {
    std::fprintf(stderr, "emulator: bad launch (%u threads, %zu shared bytes)\n", threads, shared_bytes);
    std::abort();
  }
  if (fibers.size() < threads) fibers.resize(threads);
  body_function = body;
  body_context = context;
  gridDim_ = grid;
  blockDim_ = block;
  arrange(blocks, grid.x, order, state);
  for (const unsigned b : blocks) {
    blockIdx_ = dim3(b);
    for (unsigned i = 0; i < threads; ++i) prepare(fibers[i]);
    for (;;) {
      arrange(threads_in_order, threads, order, state);
      for (const unsigned i : threads_in_order) {
        if (fibers[i].wait == Wait::none) resume(i, threads);
      }
      bool done = true;
      for (unsigned i = 0; i < threads; ++i) done &= fibers[i].wait == Wait::done;
      if (done) break;
      if (releaseWarps(threads)) continue;
      if (releaseBlock(threads)) continue;
      std::fprintf(stderr, "emulator: deadlock in block %u of %u: threads wait at different barriers\n", b, grid.x);
      std::abort();
    }
  }
}

}  // namespace tacit_emu

// ---------------------------------------------------------------------------
// The runtime API.

namespace {
std::map<void *, size_t> allocations;
size_t allocated = 0;
constexpr size_t emulated_total = size_t(8) << 30;
}  // namespace

cudaError_t cudaMalloc(void **p, size_t bytes) {
  if (allocated + bytes > emulated_total) return cudaErrorMemoryAllocation;
  *p = std::calloc(1, bytes ? bytes : 1);
  if (!*p) return cudaErrorMemoryAllocation;
  allocations[*p] = bytes;
  allocated += bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
  auto found = allocations.find(p);
  if (found != allocations.end()) {
    allocated -= found->second;
    allocations.erase(found);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void *to, const void *from, size_t bytes, cudaMemcpyKind) {
  std::memmove(to, from, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
  std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
  *free_bytes = emulated_total - allocated;
  *total_bytes = emulated_total;
  return cudaSuccess;
}
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
const char *cudaGetErrorName(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaErrorEmulated"; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetDevice(int *device) { *device = 0; return cudaSuccess; }
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attribute, int) {
  *value = attribute == cudaDevAttrMultiProcessorCount ? 2 : 227 * 1024;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *count) { *count = 1; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
  std::memset(p, 0, sizeof(*p));
  std::strncpy(p->name, "tacit CUDA emulator (CPU)", sizeof(p->name) - 1);
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 2;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *version) { *version = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *version) { *version = 13000; return cudaSuccess; }

// ---------------------------------------------------------------------------
// cuBLAS.

struct tacit_emu_blas {};

cublasStatus_t cublasCreate(cublasHandle_t *handle) { *handle = new tacit_emu_blas; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t handle) { delete handle; return CUBLAS_STATUS_SUCCESS; }

static float load(const void *p, cudaDataType type, size_t index) {
  switch (type) {
    case CUDA_R_32F: return static_cast<const float *>(p)[index];
    case CUDA_R_16F: return __half2float(static_cast<const __half *>(p)[index]);
    default: return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[index]);
  }
}

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t, cublasGemmAlgo_t) {
  if (Ctype != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float a = *static_cast<const float *>(alpha), b = *static_cast<const float *>(beta);
  float *c = static_cast<float *>(C);
  std::vector<float> row(k), column(k);
  for (int j = 0; j < n; ++j) {
    for (int l = 0; l < k; ++l) column[l] = load(B, Btype, transb == CUBLAS_OP_N ? (size_t)l + (size_t)j * ldb : (size_t)j + (size_t)l * ldb);
    for (int i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < k; ++l) {
        const float x = load(A, Atype, transa == CUBLAS_OP_N ? (size_t)i + (size_t)l * lda : (size_t)l + (size_t)i * lda);
        sum += x * column[l];
      }
      float &out = c[(size_t)i + (size_t)j * ldc];
      out = a * sum + (b == 0.0f ? 0.0f : b * out);
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}
