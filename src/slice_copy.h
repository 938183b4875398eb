// Copying a row-major block (one stored slice) into its place in a larger row-major tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "dims.h"

namespace ckptio {

// Calls copy_run(src_index, dst_index, count) for each contiguous run of elements of the block
// with the given starts/lengths inside a tensor of shape full_dims. Indexes count elements.
// Requires every start + length <= the full dimension (callers validate slice geometry).
template <typename CopyRun>
void ForEachSliceRun(DimsView full_dims, const std::vector<int64_t>& starts,
                     const std::vector<int64_t>& lengths, CopyRun copy_run) {
  const size_t rank = full_dims.size();
  if (rank == 0) {
    copy_run(0, 0, 1);
    return;
  }
  for (int64_t l : lengths) {
    if (l == 0) return;
  }
  // Element strides of the full tensor.
  std::vector<uint64_t> stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * uint64_t(full_dims[d]);
  const uint64_t run = uint64_t(lengths[rank - 1]);
  std::vector<int64_t> pos(rank, 0);  // position within the block, last dim fixed at 0
  uint64_t src = 0;
  while (true) {
    uint64_t dst = 0;
    for (size_t d = 0; d < rank; ++d) dst += uint64_t(starts[d] + pos[d]) * stride[d];
    copy_run(src, dst, run);
    src += run;
    // Advance the odometer over all but the last dimension.
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++pos[d] < lengths[d]) break;
      pos[d] = 0;
      if (d == 0) return;
    }
    if (rank == 1) return;
  }
}

}  // namespace ckptio
