/*
 * The C ABI of libtacit_cuda: the GPU kernels behind tacit's device: "gpu".
 *
 * Only libtacit (zig/gpu/) calls it: the CPU library opens this one with
 * dlopen on the first GPU request and checks tacit_cuda_abi_version, so a
 * machine without CUDA never loads it. Every pointer named `device_*` is a
 * device address that tacit_cuda_alloc returned; every other pointer is host
 * memory, read or written only during the call.
 *
 * Every function but tacit_cuda_abi_version and tacit_cuda_free returns a
 * tc_status and, when it is not TC_OK, writes a UTF-8 message (not
 * terminated) into call->message, its length into call->message_len: errors
 * stay with the call, never in a process-global slot, and no CUDA error
 * crosses this boundary as anything but a status.
 */
#ifndef TACIT_CUDA_H
#define TACIT_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TACIT_CUDA_ABI_VERSION 1

/* The library is built with hidden visibility: only these are exported. */
#define TC_API __attribute__((visibility("default")))

typedef enum {
  TC_OK = 0,
  /* No usable device (driver missing or too old, no GPU). */
  TC_UNAVAILABLE = 1,
  /* A device allocation did not fit; the message names what and how much. */
  TC_OUT_OF_MEMORY = 2,
  /* A kernel launch or a CUDA/cuBLAS call failed. */
  TC_LAUNCH = 3,
  /* An argument the caller should have checked (a bug in libtacit). */
  TC_INVALID = 4,
  /* *call->cancel became nonzero: the work stopped between batches. */
  TC_CANCELLED = 5,
  /* A row's system was not positive definite or a result not finite. */
  TC_NUMERICAL = 6,
} tc_status;

typedef struct {
  /* Out: message bytes of a failing call, at most message_capacity. */
  char *message;
  uint32_t message_capacity;
  uint32_t message_len;
  /* In, read between batches of work: nonzero asks the call to stop. May be null. */
  const volatile uint32_t *cancel;
  /* Out, for TC_NUMERICAL: the first row that failed, else -1. */
  int64_t failed_row;
} tc_call;

typedef struct {
  int32_t device_count;
  int32_t compute_major;
  int32_t compute_minor;
  int32_t multiprocessors;
  int32_t driver_version;
  int32_t runtime_version;
  uint64_t memory_free;
  uint64_t memory_total;
  char name[256];
} tc_device_info;

/* Element types of factor storage: arithmetic is float32 whatever the storage. */
typedef enum { TC_FLOAT32 = 0, TC_FLOAT16 = 1, TC_BFLOAT16 = 2 } tc_dtype;

/* A CSR matrix in device memory (int32 ids, float32 values; values may be null). */
typedef struct {
  const int32_t *device_indptr;
  const int32_t *device_indices;
  const float *device_values;
  int64_t n_rows;
  int64_t n_cols;
  int64_t nnz;
  /* Optional: the rows with more than long_row_nnz entries, ascending (device,
     n_long_rows), which the ALS kernels give more threads. */
  const int32_t *device_long_rows;
  int64_t n_long_rows;
  int32_t long_row_nnz;
  int32_t reserved;
} tc_csr;

typedef struct {
  /* The rows solved: x[r] for every row r of ratings (n_rows × f), in place. */
  tc_csr ratings;
  void *device_x;
  /* The fixed side, n_other × f. */
  const void *device_y;
  int64_t n_other;
  int32_t f;
  /* tc_dtype of x and y. */
  int32_t dtype;
  float regularization;
  float alpha;
  /* 0: c = alpha·|v| (implicit's rule), 1: c = 1 + alpha·|v| (Hu et al., eq. 6). */
  int32_t confidence;
  /* 0: conjugate gradient, 1: Cholesky. */
  int32_t solver;
  int32_t cg_steps;
} tc_als_args;

typedef struct {
  /* Queries (n_queries × f) and targets (n_targets × f) on the device. */
  const void *device_queries;
  int64_t n_queries;
  const void *device_targets;
  int64_t n_targets;
  int32_t f;
  int32_t dtype;
  int32_t k;
  int32_t reserved;
  /* Host, optional: row q of this CSR (n_queries rows) is never returned for query q. */
  const int32_t *exclude_indptr;
  const int32_t *exclude_indices;
  /* Host, optional: mask[t] != 0 leaves target t out for every query. */
  const uint8_t *target_mask;
  /* Host, optional: only these targets (sorted ascending, unique) are ranked. */
  const int32_t *candidates;
  int64_t n_candidates;
  /* Host outputs, n_queries × k: best first, ties by smaller id; -1 / -inf past the eligible. */
  int32_t *out_ids;
  float *out_scores;
  /* Out: the query rows one GEMM block held (sized to the free memory). */
  int64_t out_block_queries;
} tc_topk_args;

typedef struct {
  /* Liked items, rows sorted ascending; values unused. */
  tc_csr likes;
  /* row_of[nz]: the row of stored entry nz (device, nnz). */
  const int32_t *device_row_of;
  float *device_user_factors;
  float *device_item_factors;
  int32_t f;
  int32_t verify_negatives;
  float learning_rate;
  float regularization;
  int64_t n_samples;
  uint64_t seed;
  /* Out: samples with x_uij > 0 before their step, and samples skipped. */
  int64_t out_correct;
  int64_t out_skipped;
} tc_bpr_args;

typedef struct {
  tc_csr ratings;
  const void *device_x;
  const void *device_y;
  int64_t n_other;
  int32_t f;
  int32_t dtype;
  float regularization;
  float alpha;
  int32_t confidence;
  int32_t reserved;
  /* Out: the objective and the total confidence, as zig/als.zig's `loss` defines them. */
  double out_objective;
  double out_confidence_total;
} tc_loss_args;

TC_API int32_t tacit_cuda_abi_version(void);
/* TC_UNAVAILABLE with the reason when there is no usable device. */
TC_API int32_t tacit_cuda_probe(tc_call *call, tc_device_info *out);
TC_API int32_t tacit_cuda_alloc(tc_call *call, uint64_t bytes, const char *what, void **out_device);
/* Accepts null. */
TC_API void tacit_cuda_free(void *device);
/* Device 0's free and total memory now. */
TC_API int32_t tacit_cuda_memory(tc_call *call, uint64_t *out_free, uint64_t *out_total);
/* direction 0: host → device, 1: device → host, 2: device → device. */
TC_API int32_t tacit_cuda_copy(tc_call *call, void *to, const void *from, uint64_t bytes, int32_t direction);
/* float32 host values ↔ device storage of `dtype` (converting on the device). */
TC_API int32_t tacit_cuda_upload_factors(tc_call *call, void *device, const float *host, uint64_t count, int32_t dtype);
TC_API int32_t tacit_cuda_download_factors(tc_call *call, float *host, const void *device, uint64_t count, int32_t dtype);
TC_API int32_t tacit_cuda_als_solve(tc_call *call, const tc_als_args *args);
TC_API int32_t tacit_cuda_als_loss(tc_call *call, tc_loss_args *args);
TC_API int32_t tacit_cuda_topk(tc_call *call, tc_topk_args *args);
TC_API int32_t tacit_cuda_bpr_epoch(tc_call *call, tc_bpr_args *args);
/* sizeof and offsetof of every struct above, in order (cuda/layout.cu); returns the count. */
TC_API uint32_t tacit_cuda_layout(uint64_t *out, uint32_t capacity);

#ifdef __cplusplus
}
#endif

#endif
