// Where the slices of a partitioned tensor lie in it, and the checks both readers (V2 bundles,
// V1 tables) apply before anything is allocated or copied: every extent inside the shape, no two
// slices sharing an element, and whether together they cover the tensor exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bundle_proto.h"
#include "status.h"

namespace ckptio {

// A slice's place in its full tensor, with full dimensions made explicit.
struct SliceGeometry {
  std::vector<int64_t> starts;
  std::vector<int64_t> lengths;
  uint64_t num_elements() const;
};

// The slice with full extents replaced by the tensor's dimensions (call after CheckSlice).
SliceGeometry ResolveSlice(const TensorSlice& slice, DimsView full_dims);

// "[2,3]": dimensions or starts, for messages.
std::string ShapeString(DimsView dims);

// Do two slices share at least one element? (Empty slices share none, as in TF's
// TensorSlice::Intersect.)
bool Overlaps(const SliceGeometry& a, const SliceGeometry& b);

// Counts overlap-check steps (pairs x rank) across one checkpoint: a crafted file listing 300k
// copies of one empty slice in 1.2 MB would otherwise cost minutes of checks.
struct SliceCheckBudget {
  uint64_t steps = 0;
  uint64_t max_steps = 0;
};

// The `num_slices` slices of one tensor, checked as they are added.
class SliceTiling {
 public:
  // `dims` must outlive the tiling.
  SliceTiling(DimsView dims, size_t num_slices, SliceCheckBudget* budget)
      : dims_(dims), num_slices_(num_slices), budget_(budget) {}

  // Check `slice` (rank, extents inside the shape, no overlap with those added before) and add
  // it. Corruption names what is wrong; NotSupported when the check budget runs out.
  Status Add(const TensorSlice& slice, SliceGeometry* geometry);
  // Do the slices added hold exactly `num_elements` (no gaps, given they do not overlap)?
  bool Covers(uint64_t num_elements) const { return covered_ == num_elements; }

 private:
  DimsView dims_;
  size_t num_slices_;
  SliceCheckBudget* budget_;
  uint64_t covered_ = 0;
  std::vector<SliceGeometry> added_;
};

// Is the slice's rank the tensor's, and does every extent lie inside its shape?
Status CheckSlice(const TensorSlice& slice, DimsView dims);

}  // namespace ckptio
