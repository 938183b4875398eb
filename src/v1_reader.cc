#include "v1_reader.h"

#include <algorithm>
#include <cstring>

#include "ordered_code.h"
#include "proto_wire.h"
#include "slice_copy.h"
#include "tensor_proto.h"

namespace ckptio {

namespace {

constexpr uint64_t kMaxElements = 1ull << 62;
// Overlap checks per checkpoint (see SliceCheckBudget): real files need a tiny fraction.
constexpr uint64_t kMaxSliceCheckSteps = 1ull << 28;

Status Malformed(const char* what) { return Status::Corruption(std::string("malformed ") + what); }

struct SliceMeta {
  std::string name;
  TensorShape shape;
  int64_t dtype = 0;
  std::vector<TensorSlice> slices;
};

Status ParseSavedSliceMeta(std::string_view bytes, SliceMeta* out) {
  WireReader r(bytes);
  while (r.Next()) {
    const bool is_bytes = r.wire_type() == kLengthDelimited;
    switch (r.field()) {
      case 1:
        if (!is_bytes) return Malformed("SavedSliceMeta.name");
        out->name.assign(r.bytes());
        break;
      case 2:
        if (!is_bytes) return Malformed("SavedSliceMeta.shape");
        CKPTIO_RETURN_IF_ERROR(ParseTensorShape(r.bytes(), &out->shape));
        break;
      case 3:
        if (r.wire_type() != kVarint) return Malformed("SavedSliceMeta.type");
        out->dtype = static_cast<int64_t>(r.varint());
        break;
      case 4: {
        if (!is_bytes) return Malformed("SavedSliceMeta.slice");
        TensorSlice slice;
        CKPTIO_RETURN_IF_ERROR(ParseTensorSlice(r.bytes(), &slice));
        out->slices.push_back(std::move(slice));
        break;
      }
      default:
        break;
    }
  }
  return r.ok() ? Status::OK() : Malformed("SavedSliceMeta");
}

// The `field`-th submessage of a SavedTensorSlices record (1 meta, 2 data).
Status RecordField(std::string_view record, int field, std::string_view* out, bool* found) {
  *found = false;
  WireReader r(record);
  while (r.Next()) {
    if (r.field() == field) {
      if (r.wire_type() != kLengthDelimited) return Malformed("SavedTensorSlices");
      *out = r.bytes();
      *found = true;
    }
  }
  return r.ok() ? Status::OK() : Malformed("SavedTensorSlices");
}

}  // namespace

Status V1Reader::Open(const std::vector<std::string>& files, std::unique_ptr<V1Reader>* out,
                      SourceOpener opener) {
  std::unique_ptr<V1Reader> reader(new V1Reader());
  reader->files_ = files;
  reader->tables_.resize(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    std::shared_ptr<const DataSource> source;
    CKPTIO_RETURN_IF_ERROR(opener(files[i], &source));
    reader->total_file_bytes_ += source->size();
    Status s = Table::Open(std::move(source), &reader->tables_[i]);
    if (!s.ok()) {
      return Status(s.code(), "unable to open table file: " + s.message()).WithFile(files[i]);
    }
    Block block;
    std::string_view record, meta;
    bool found = false;
    s = reader->tables_[i].Get("", &block, &record, &found);
    if (s.ok() && found) s = RecordField(record, 1, &meta, &found);
    if (s.ok() && !found) {
      s = Status::Corruption(
          "failed to find the saved tensor slices at the beginning of the checkpoint file");
    }
    if (s.ok()) s = reader->AddMeta(i, meta);
    if (!s.ok()) return s.WithFile(files[i]);
  }
  CKPTIO_RETURN_IF_ERROR(reader->Finish());
  *out = std::move(reader);
  return Status::OK();
}

Status V1Reader::AddMeta(size_t file, std::string_view meta) {
  WireReader r(meta);
  while (r.Next()) {
    if (r.field() == 2 && r.wire_type() == kLengthDelimited) {
      VersionDef version;
      CKPTIO_RETURN_IF_ERROR(ParseVersionDef(r.bytes(), &version));
      CKPTIO_RETURN_IF_ERROR(CheckCheckpointVersion(version));
      continue;
    }
    if (r.field() != 1) continue;
    if (r.wire_type() != kLengthDelimited) return Malformed("SavedTensorSliceMeta");
    SliceMeta m;
    CKPTIO_RETURN_IF_ERROR(ParseSavedSliceMeta(r.bytes(), &m));
    auto it = by_name_.find(m.name);
    if (it == by_name_.end()) {
      V1Tensor t;
      t.name = m.name;
      t.dtype = m.dtype;
      t.type = GetDataTypeInfo(m.dtype);
      t.shape = m.shape;
      it = by_name_.emplace(m.name, tensors_.size()).first;
      tensors_.push_back(std::move(t));
    }
    V1Tensor& t = tensors_[it->second];
    if (t.dtype != m.dtype || t.shape.dims != m.shape.dims) {
      return Status::Corruption("files disagree on the tensor's dtype or shape").WithKey(m.name);
    }
    for (TensorSlice& slice : m.slices) {
      V1Tensor::Part part;
      part.file = file;
      part.slice = std::move(slice);
      t.parts.push_back(std::move(part));
    }
  }
  return r.ok() ? Status::OK() : Malformed("SavedTensorSliceMeta");
}

Status V1Reader::Finish() {
  SliceCheckBudget budget{0, kMaxSliceCheckSteps};
  for (V1Tensor& t : tensors_) {
    auto bad = [&](const std::string& why) {
      return Status::Corruption(why).WithKey(t.name).WithFile(files_[t.parts.empty() ? 0 : t.parts[0].file]);
    };
    if (t.shape.unknown_rank || t.shape.dims.size() > 254) return bad("invalid tensor shape");
    uint64_t n = 1;
    for (int64_t d : t.shape.dims) {
      if (d < 0 || (d != 0 && n > kMaxElements / uint64_t(d))) return bad("invalid tensor shape");
      n *= uint64_t(d);
    }
    t.num_elements = n;
    // Every stored value takes at least one byte of some file, so a larger claim is corrupt
    // (and must not turn into an allocation).
    if (n > total_file_bytes_) return bad("shape claims more elements than the files hold");
    SliceTiling tiling(t.shape.dims, t.parts.size(), &budget);
    for (V1Tensor::Part& p : t.parts) {
      Status s = tiling.Add(p.slice, &p.geometry);
      if (!s.ok()) return s.WithKey(t.name).WithFile(files_[p.file]);
      p.num_elements = p.geometry.num_elements();
    }
    t.parts_cover_tensor = tiling.Covers(t.num_elements);
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const V1Tensor& a, const V1Tensor& b) { return a.name < b.name; });
  by_name_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
  return Status::OK();
}

const V1Tensor* V1Reader::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Status V1Reader::TensorError(Status s, const V1Tensor& t, size_t file) const {
  return s.WithFile(files_[file]).WithKey(t.name);
}

Status V1Reader::ReadPart(const V1Tensor& t, const V1Tensor::Part& part, Block* block,
                          std::string_view* values, bool verify_checksum) const {
  const std::string key = EncodeTensorNameSlice(t.name, part.slice);
  std::string_view record, saved_slice;
  bool found = false;
  CKPTIO_RETURN_IF_ERROR(
      tables_[part.file].Get(key, block, &record, &found, verify_checksum));
  if (!found) return Status::Corruption("no record for a slice listed in the meta");
  CKPTIO_RETURN_IF_ERROR(RecordField(record, 2, &saved_slice, &found));
  if (!found) return Malformed("SavedTensorSlices (no data)");
  WireReader r(saved_slice);
  found = false;
  while (r.Next()) {
    if (r.field() == 1 && r.bytes() != t.name) return Status::Corruption("record names another tensor");
    if (r.field() == 3 && r.wire_type() == kLengthDelimited) {
      *values = r.bytes();
      found = true;
    }
  }
  if (!r.ok()) return Malformed("SavedSlice");
  if (!found) *values = std::string_view();  // no values: valid only for empty slices
  return Status::OK();
}

Status V1Reader::ReadFixed(const V1Tensor& t, uint8_t* dst) const {
  if (t.type.storage != Storage::kFixed) {
    return Status::NotSupported(std::string("cannot read dtype ") + t.type.name)
        .WithKey(t.name).WithFile(files_[t.parts.empty() ? 0 : t.parts[0].file]);
  }
  if (!t.parts_cover_tensor) {
    return Status::Corruption("the stored slices do not cover the whole tensor")
        .WithKey(t.name).WithFile(files_[t.parts.empty() ? 0 : t.parts[0].file]);
  }
  const size_t elem = static_cast<size_t>(t.type.elem_size);
  Block block;
  std::vector<uint8_t> buffer;
  for (const V1Tensor::Part& part : t.parts) {
    std::string_view values;
    Status s = ReadPart(t, part, &block, &values);
    const bool whole = t.parts.size() == 1;
    uint8_t* out = dst;
    if (s.ok() && !whole) {
      buffer.resize(part.num_elements * elem);
      out = buffer.data();
    }
    if (s.ok()) s = DecodeTensorProtoValues(values, t.dtype, part.num_elements, out);
    if (!s.ok()) return TensorError(s, t, part.file);
    if (!whole) {
      ForEachSliceRun(t.shape.dims, part.geometry.starts, part.geometry.lengths,
                      [&](uint64_t src, uint64_t to, uint64_t count) {
                        std::memcpy(dst + to * elem, buffer.data() + src * elem, count * elem);
                      });
    }
  }
  return Status::OK();
}

Status V1Reader::RawView(const V1Tensor& t, ByteRange* view, bool* found) const {
  *found = false;
  if (t.parts.size() != 1 || !t.parts_cover_tensor || t.type.storage != Storage::kFixed) {
    return Status::OK();
  }
  const V1Tensor::Part& part = t.parts[0];
  Block block;
  std::string_view values, raw;
  Status s = ReadPart(t, part, &block, &values, /*verify_checksum=*/false);
  if (s.ok()) s = FindRawTensorProtoValues(values, t.dtype, t.num_elements, &raw);
  if (!s.ok()) return TensorError(s, t, part.file);
  const ByteRange& bytes = block.bytes;
  const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
  // Only the bytes the source handed out can be viewed (a snappy block's live in the block).
  if (raw.empty() || p < bytes.data || p + raw.size() > bytes.data + bytes.size) {
    return Status::OK();
  }
  std::shared_ptr<const DataSource> own;
  {
    std::lock_guard<std::mutex> lock(views_mu_);
    if (view_sources_.size() != tables_.size()) {
      view_sources_.assign(tables_.size(), nullptr);
      view_sources_made_.assign(tables_.size(), false);
    }
    if (!view_sources_made_[part.file]) {
      CKPTIO_RETURN_IF_ERROR(
          tables_[part.file].source()->Independent(&view_sources_[part.file]));
      view_sources_made_[part.file] = true;
    }
    own = view_sources_[part.file];
  }
  if (own == nullptr) {
    view->owner = bytes.owner;
    view->data = p;
  } else {
    ByteRange range;
    CKPTIO_RETURN_IF_ERROR(own->Read(block.offset + static_cast<uint64_t>(p - bytes.data),
                                     raw.size(), &range));
    view->owner = std::move(range.owner);
    view->data = range.data;
  }
  view->size = raw.size();
  *found = true;
  return Status::OK();
}

void V1Reader::ForgetViews() const {
  std::lock_guard<std::mutex> lock(views_mu_);
  view_sources_.clear();
  view_sources_made_.clear();
}

Status V1Reader::ReadStrings(const V1Tensor& t, std::vector<std::string>* out) const {
  if (!t.parts_cover_tensor) {
    return Status::Corruption("the stored slices do not cover the whole tensor").WithKey(t.name);
  }
  out->assign(t.num_elements, std::string());
  Block block;
  std::vector<std::string> part_values;
  for (const V1Tensor::Part& part : t.parts) {
    std::string_view values;
    Status s = ReadPart(t, part, &block, &values);
    if (s.ok()) s = DecodeTensorProtoStrings(values, part.num_elements, &part_values);
    if (!s.ok()) return TensorError(s, t, part.file);
    ForEachSliceRun(t.shape.dims, part.geometry.starts, part.geometry.lengths,
                    [&](uint64_t src, uint64_t to, uint64_t count) {
                      for (uint64_t i = 0; i < count; ++i) (*out)[to + i] = std::move(part_values[src + i]);
                    });
  }
  return Status::OK();
}

Status V1Reader::Verify(const V1Tensor& t) const {
  if (t.type.storage == Storage::kString) {
    std::vector<std::string> values;
    return ReadStrings(t, &values);
  }
  if (t.type.storage != Storage::kFixed) return Status::OK();  // listed, unreadable
  std::vector<uint8_t> values(t.num_elements * uint64_t(t.type.elem_size));
  return ReadFixed(t, values.data());
}

Status V1Reader::VerifyAll() const {
  for (size_t i = 0; i < tables_.size(); ++i) {
    Status s = tables_[i].ForEach([](std::string_view, std::string_view) { return Status::OK(); });
    if (!s.ok()) return s.WithFile(files_[i]);
  }
  for (const V1Tensor& t : tensors_) CKPTIO_RETURN_IF_ERROR(Verify(t));
  return Status::OK();
}

}  // namespace ckptio
