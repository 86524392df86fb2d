// Internal: the chunk plan of the from-hidden kernels, exposed so tests and benchmarks can check its memory bound.
#pragma once
#include <cstdint>

#include "../common/dtype.h"

namespace stepwise::hidden {

struct Plan {
  int64_t rows = 0;         // C: valid (non-ignored) rows per chunk
  int64_t cols = 0;         // Vb: vocabulary columns per GEMM tile
  int64_t extra_bytes = 0;  // scratch held at once: tile C*Vb, hidden chunk C*d (+ dhidden chunk), W tile if bf16
};

// Scratch budget for auto plans: 48 MiB, i.e. < 1/4 of a materialised fp32 [2048, 32000] (250 MiB) with room
// for OpenBLAS's own packing buffers, and large enough for ~2048 x 4096 x 896 GEMM tiles (near peak rate).
constexpr int64_t kBudgetBytes = int64_t{48} << 20;

// Tests shrink the budget to force several row chunks and V-tiles on small shapes; 0 restores kBudgetBytes.
void set_budget_bytes_for_tests(int64_t bytes);

// valid_rows: rows that need work; chunk_rows: the caller's request (0 = auto); backward adds the dhidden chunk.
Plan make_plan(int64_t valid_rows, int64_t d, int64_t v, DType dtype, int64_t chunk_rows, bool backward_dhidden);

}  // namespace stepwise::hidden
