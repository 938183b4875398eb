// Reader for legacy V1 checkpoints (TF-slim era): one table per file, or `-NNNNN-of-MMMMM`
// shards, holding SavedTensorSlices records. Key "" is the meta record listing every tensor and
// its stored slices; each slice's values sit in a TensorProto under its OrderedCode slice key.
//
// Only the meta record is read on open. Values are decoded per tensor on request; tensors
// stored as several slices (partitioned variables, possibly across files) are assembled.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bundle_proto.h"
#include "data_source.h"
#include "dtypes.h"
#include "slice_geometry.h"
#include "status.h"
#include "table.h"

namespace ckptio {

struct V1Tensor {
  struct Part {
    size_t file = 0;
    TensorSlice slice;      // as stored (builds the key)
    SliceGeometry geometry; // resolved against the full shape
    uint64_t num_elements = 0;
  };
  std::string name;
  int64_t dtype = 0;
  DataTypeInfo type;
  TensorShape shape;
  uint64_t num_elements = 0;
  std::vector<Part> parts;
  bool parts_cover_tensor = false;
};

class V1Reader {
 public:
  // Open every file of the checkpoint (the expanded glob, in order), each through `opener`
  // (local memory maps by default, or remote ranged reads). Opening reads each file's footer,
  // index block and the block holding its meta record, nothing else.
  static Status Open(const std::vector<std::string>& files, std::unique_ptr<V1Reader>* out,
                     SourceOpener opener = OpenMappedSource);

  const std::vector<std::string>& files() const { return files_; }
  // Every tensor, sorted by name (bytewise).
  const std::vector<V1Tensor>& tensors() const { return tensors_; }
  const V1Tensor* Find(std::string_view name) const;

  // Decode a fixed-size tensor into dst (num_elements * elem_size bytes).
  Status ReadFixed(const V1Tensor& t, uint8_t* dst) const;
  // Where the tensor's values already lie in the file as its little-endian array (one slice,
  // packed float/double/complex values or tensor_content, uncompressed block), set *view to
  // them (owner: the mapping, or the buffer read) and *found to true. Block checksums are not
  // checked here. Over a mapped file the view lies in a mapping of its own, not the one the
  // tables are read from: a write into it (through torch, ctypes) never changes what later
  // lookups and block checks see.
  Status RawView(const V1Tensor& t, ByteRange* view, bool* found) const;
  // Decode a string tensor (row-major elements).
  Status ReadStrings(const V1Tensor& t, std::vector<std::string>* out) const;
  // Check every block of every file and decode every tensor.
  Status VerifyAll() const;
  Status Verify(const V1Tensor& t) const;
  // Views made from now on lie in fresh mappings: a write into one handed out so far never
  // shows in them.
  void ForgetViews() const;

 private:
  V1Reader() = default;
  Status AddMeta(size_t file, std::string_view meta);
  Status Finish();
  Status ReadPart(const V1Tensor& t, const V1Tensor::Part& part, Block* block,
                  std::string_view* values, bool verify_checksum = true) const;
  Status TensorError(Status s, const V1Tensor& t, size_t file) const;

  std::vector<std::string> files_;
  std::vector<Table> tables_;
  std::vector<V1Tensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  uint64_t total_file_bytes_ = 0;
  mutable std::mutex views_mu_;
  // Per file, lazily: the independent source views are made from (nullptr: the table's own).
  mutable std::vector<std::shared_ptr<const DataSource>> view_sources_;
  mutable std::vector<bool> view_sources_made_;
};

}  // namespace ckptio
