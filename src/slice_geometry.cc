#include "slice_geometry.h"

#include <algorithm>

namespace ckptio {

uint64_t SliceGeometry::num_elements() const {
  uint64_t n = 1;
  for (int64_t l : lengths) n *= uint64_t(l);
  return n;
}

SliceGeometry ResolveSlice(const TensorSlice& slice, DimsView full_dims) {
  SliceGeometry g;
  for (size_t d = 0; d < slice.size(); ++d) {
    const bool full = slice[d].length == kFullExtent;
    g.starts.push_back(full ? 0 : slice[d].start);
    g.lengths.push_back(full ? full_dims[d] : slice[d].length);
  }
  return g;
}

std::string ShapeString(DimsView dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

bool Overlaps(const SliceGeometry& a, const SliceGeometry& b) {
  for (size_t d = 0; d < a.starts.size(); ++d) {
    // The intersection of [start, start + length) in this dimension is empty.
    if (std::max(a.starts[d], b.starts[d]) >=
        std::min(a.starts[d] + a.lengths[d], b.starts[d] + b.lengths[d])) {
      return false;
    }
  }
  return true;
}

Status CheckSlice(const TensorSlice& slice, DimsView dims) {
  if (slice.size() != dims.size()) return Status::Corruption("rank differs from the tensor's");
  for (size_t d = 0; d < dims.size(); ++d) {
    const Extent& e = slice[d];
    if (e.length == kFullExtent) {
      if (e.start != 0) return Status::Corruption("full extent with a nonzero start");
    } else if (e.start < 0 || e.length < 0 || e.start > dims[d] || e.length > dims[d] - e.start) {
      return Status::Corruption("extent outside the shape " + ShapeString(dims));
    }
  }
  return Status::OK();
}

Status SliceTiling::Add(const TensorSlice& slice, SliceGeometry* geometry) {
  CKPTIO_RETURN_IF_ERROR(CheckSlice(slice, dims_));
  SliceGeometry g = ResolveSlice(slice, dims_);
  budget_->steps += added_.size() * std::max<uint64_t>(dims_.size(), 1);
  if (budget_->steps > budget_->max_steps) {
    return Status::NotSupported("too many slices to check for overlaps (" +
                                std::to_string(num_slices_) + ")");
  }
  for (const SliceGeometry& other : added_) {
    if (Overlaps(g, other)) return Status::Corruption("overlapping slices");
  }
  covered_ += g.num_elements();
  added_.push_back(g);
  *geometry = std::move(g);
  return Status::OK();
}

}  // namespace ckptio
