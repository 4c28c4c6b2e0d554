// The layout of every struct of tacit_cuda.h as numbers: for each struct in
// header order, its size, then the offset of each field in declaration
// order. zig/gpu/cuda.zig computes the same list from its extern structs
// and refuses a library whose list differs, so the two cannot drift apart.
#include <cstddef>

#include "tacit_cuda.h"

#define FIELD(type, field) offsetof(type, field)

static const uint64_t layout[] = {
    sizeof(tc_call), FIELD(tc_call, message), FIELD(tc_call, message_capacity), FIELD(tc_call, message_len),
    FIELD(tc_call, cancel), FIELD(tc_call, failed_row),
    sizeof(tc_device_info), FIELD(tc_device_info, device_count), FIELD(tc_device_info, compute_major),
    FIELD(tc_device_info, compute_minor), FIELD(tc_device_info, multiprocessors),
    FIELD(tc_device_info, driver_version), FIELD(tc_device_info, runtime_version),
    FIELD(tc_device_info, memory_free), FIELD(tc_device_info, memory_total), FIELD(tc_device_info, name),
    sizeof(tc_csr), FIELD(tc_csr, device_indptr), FIELD(tc_csr, device_indices), FIELD(tc_csr, device_values),
    FIELD(tc_csr, n_rows), FIELD(tc_csr, n_cols), FIELD(tc_csr, nnz), FIELD(tc_csr, device_long_rows),
    FIELD(tc_csr, n_long_rows), FIELD(tc_csr, long_row_nnz), FIELD(tc_csr, reserved),
    sizeof(tc_als_args), FIELD(tc_als_args, ratings), FIELD(tc_als_args, device_x), FIELD(tc_als_args, device_y),
    FIELD(tc_als_args, n_other), FIELD(tc_als_args, f), FIELD(tc_als_args, dtype),
    FIELD(tc_als_args, regularization), FIELD(tc_als_args, alpha), FIELD(tc_als_args, confidence),
    FIELD(tc_als_args, solver), FIELD(tc_als_args, cg_steps),
    sizeof(tc_topk_args), FIELD(tc_topk_args, device_queries), FIELD(tc_topk_args, n_queries),
    FIELD(tc_topk_args, device_targets), FIELD(tc_topk_args, n_targets), FIELD(tc_topk_args, f),
    FIELD(tc_topk_args, dtype), FIELD(tc_topk_args, k), FIELD(tc_topk_args, reserved),
    FIELD(tc_topk_args, exclude_indptr), FIELD(tc_topk_args, exclude_indices), FIELD(tc_topk_args, target_mask),
    FIELD(tc_topk_args, candidates), FIELD(tc_topk_args, n_candidates), FIELD(tc_topk_args, out_ids),
    FIELD(tc_topk_args, out_scores), FIELD(tc_topk_args, out_block_queries),
    sizeof(tc_bpr_args), FIELD(tc_bpr_args, likes), FIELD(tc_bpr_args, device_row_of),
    FIELD(tc_bpr_args, device_user_factors), FIELD(tc_bpr_args, device_item_factors), FIELD(tc_bpr_args, f),
    FIELD(tc_bpr_args, verify_negatives), FIELD(tc_bpr_args, learning_rate), FIELD(tc_bpr_args, regularization),
    FIELD(tc_bpr_args, n_samples), FIELD(tc_bpr_args, seed), FIELD(tc_bpr_args, out_correct),
    FIELD(tc_bpr_args, out_skipped),
    sizeof(tc_loss_args), FIELD(tc_loss_args, ratings), FIELD(tc_loss_args, device_x), FIELD(tc_loss_args, device_y),
    FIELD(tc_loss_args, n_other), FIELD(tc_loss_args, f), FIELD(tc_loss_args, dtype),
    FIELD(tc_loss_args, regularization), FIELD(tc_loss_args, alpha), FIELD(tc_loss_args, confidence),
    FIELD(tc_loss_args, reserved), FIELD(tc_loss_args, out_objective), FIELD(tc_loss_args, out_confidence_total),
};

extern "C" uint32_t tacit_cuda_layout(uint64_t *out, uint32_t capacity) {
  const uint32_t n = sizeof(layout) / sizeof(layout[0]);
  for (uint32_t i = 0; i < n && i < capacity; ++i) out[i] = layout[i];
  return n;
}
