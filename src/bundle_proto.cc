#include "bundle_proto.h"

#include "coding.h"
#include "proto_wire.h"

namespace ckptio {

namespace {

// Messages nest at most a few levels; a hostile file could nest deeper, but these parsers are
// not recursive, so there is nothing to bound but lengths.
Status Malformed(const char* what) { return Status::Corruption(std::string("malformed ") + what); }

bool IsVarint(const WireReader& r) { return r.wire_type() == kVarint; }
bool IsBytes(const WireReader& r) { return r.wire_type() == kLengthDelimited; }

}  // namespace

Status ParseTensorShape(std::string_view bytes, TensorShape* out) {
  out->dims.clear();
  out->unknown_rank = false;
  WireReader r(bytes);
  while (r.Next()) {
    if (r.field() == 2 && IsBytes(r)) {  // dim
      int64_t size = 0;
      WireReader d(r.bytes());
      while (d.Next()) {
        if (d.field() == 1) {
          if (!IsVarint(d)) return Malformed("TensorShapeProto.Dim");
          size = static_cast<int64_t>(d.varint());
        }
      }
      if (!d.ok()) return Malformed("TensorShapeProto.Dim");
      out->dims.push_back(size);
    } else if (r.field() == 3 && IsVarint(r)) {
      out->unknown_rank = r.varint() != 0;
    } else if (r.field() == 2 || r.field() == 3) {
      return Malformed("TensorShapeProto");
    }
  }
  return r.ok() ? Status::OK() : Malformed("TensorShapeProto");
}

Status ParseTensorSlice(std::string_view bytes, TensorSlice* out) {
  out->clear();
  WireReader r(bytes);
  while (r.Next()) {
    if (r.field() != 1) continue;
    if (!IsBytes(r)) return Malformed("TensorSliceProto");
    Extent e;
    bool has_length = false;
    WireReader x(r.bytes());
    while (x.Next()) {
      if ((x.field() == 1 || x.field() == 2) && !IsVarint(x)) return Malformed("Extent");
      if (x.field() == 1) e.start = static_cast<int64_t>(x.varint());
      if (x.field() == 2) {
        e.length = static_cast<int64_t>(x.varint());
        has_length = true;
      }
    }
    if (!x.ok()) return Malformed("TensorSliceProto.Extent");
    // An absent length means "to the end"; the start is kept as stored because slice keys are
    // built from the raw values.
    if (!has_length) e.length = kFullExtent;
    out->push_back(e);
  }
  return r.ok() ? Status::OK() : Malformed("TensorSliceProto");
}

Status ParseVersionDef(std::string_view bytes, VersionDef* out) {
  *out = VersionDef();
  WireReader r(bytes);
  while (r.Next()) {
    if (r.field() == 1 && IsVarint(r)) {
      out->producer = static_cast<int32_t>(r.varint());
    } else if (r.field() == 2 && IsVarint(r)) {
      out->min_consumer = static_cast<int32_t>(r.varint());
    } else if (r.field() == 3) {
      if (!ForEachPackedOrSingle(r, kVarint, [&](uint64_t v) {
            out->bad_consumers.push_back(static_cast<int32_t>(v));
          })) {
        return Malformed("VersionDef");
      }
    } else if (r.field() <= 3) {
      return Malformed("VersionDef");
    }
  }
  return r.ok() ? Status::OK() : Malformed("VersionDef");
}

Status ParseBundleHeader(std::string_view bytes, BundleHeader* out) {
  *out = BundleHeader();
  WireReader r(bytes);
  while (r.Next()) {
    if (r.field() == 1 && IsVarint(r)) {
      out->num_shards = static_cast<int32_t>(r.varint());
    } else if (r.field() == 2 && IsVarint(r)) {
      out->endianness = static_cast<int64_t>(r.varint());
    } else if (r.field() == 3 && IsBytes(r)) {
      CKPTIO_RETURN_IF_ERROR(ParseVersionDef(r.bytes(), &out->version));
      out->has_version = true;
    } else if (r.field() <= 3) {
      return Malformed("BundleHeaderProto");
    }
  }
  return r.ok() ? Status::OK() : Malformed("BundleHeaderProto");
}

Status ParseBundleEntry(std::string_view bytes, BundleEntry* out) {
  *out = BundleEntry();
  WireReader r(bytes);
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        if (!IsVarint(r)) return Malformed("BundleEntryProto.dtype");
        out->dtype = static_cast<int64_t>(r.varint());
        break;
      case 2:
        if (!IsBytes(r)) return Malformed("BundleEntryProto.shape");
        CKPTIO_RETURN_IF_ERROR(ParseTensorShape(r.bytes(), &out->shape));
        break;
      case 3:
        if (!IsVarint(r)) return Malformed("BundleEntryProto.shard_id");
        out->shard_id = static_cast<int32_t>(r.varint());
        break;
      case 4:
        if (!IsVarint(r)) return Malformed("BundleEntryProto.offset");
        out->offset = r.varint();
        break;
      case 5:
        if (!IsVarint(r)) return Malformed("BundleEntryProto.size");
        out->size = r.varint();
        break;
      case 6:
        if (r.wire_type() != kFixed32) return Malformed("BundleEntryProto.crc32c");
        out->crc32c = r.fixed32();
        break;
      case 7: {
        if (!IsBytes(r)) return Malformed("BundleEntryProto.slices");
        TensorSlice slice;
        CKPTIO_RETURN_IF_ERROR(ParseTensorSlice(r.bytes(), &slice));
        out->slices.push_back(std::move(slice));
        break;
      }
      default:
        break;  // unknown fields are skipped, as protobuf does
    }
  }
  return r.ok() ? Status::OK() : Malformed("BundleEntryProto");
}

// The fast path of opening an index: the entries TensorFlow writes, decoded straight from
// their bytes. Only one-byte tags of the fields above are taken, in whatever order and
// repetition, with the meaning the parsers above give them; anything else (other fields, a
// named dim, slices, a second shape, malformed bytes) returns false for ParseBundleEntry.
namespace {

inline bool FastVarint(const uint8_t** p, const uint8_t* limit, uint64_t* v) {
  const uint8_t* q = GetVarint64(*p, limit, v);
  if (q == nullptr) return false;
  *p = q;
  return true;
}

// A length-delimited field's bytes: [*p, *p + len), after which *p points.
inline bool FastBytes(const uint8_t** p, const uint8_t* limit, const uint8_t** begin,
                      const uint8_t** end) {
  uint64_t len;
  if (!FastVarint(p, limit, &len) || len > uint64_t(limit - *p)) return false;
  *begin = *p;
  *end = *p + len;
  *p = *end;
  return true;
}

// TensorShapeProto whose dims hold only sizes (no names).
bool FastShape(const uint8_t* p, const uint8_t* limit, TensorShape* out) {
  while (p < limit) {
    const uint8_t tag = *p++;
    if (tag == 0x12) {  // dim
      const uint8_t *dim, *dim_end;
      if (!FastBytes(&p, limit, &dim, &dim_end)) return false;
      uint64_t size = 0;
      while (dim < dim_end) {
        if (*dim++ != 0x08 || !FastVarint(&dim, dim_end, &size)) return false;  // size
      }
      out->dims.push_back(static_cast<int64_t>(size));
    } else if (tag == 0x18) {  // unknown_rank
      uint64_t v;
      if (!FastVarint(&p, limit, &v)) return false;
      out->unknown_rank = v != 0;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseBundleEntryFast(std::string_view bytes, BundleEntry* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* limit = p + bytes.size();
  bool have_shape = false;
  uint64_t v;
  while (p < limit) {
    switch (*p++) {
      case 0x08:  // dtype
        if (!FastVarint(&p, limit, &v)) return false;
        out->dtype = static_cast<int64_t>(v);
        break;
      case 0x12: {  // shape: a second one replaces the first, left to ParseBundleEntry
        const uint8_t *shape, *shape_end;
        if (have_shape || !FastBytes(&p, limit, &shape, &shape_end) ||
            !FastShape(shape, shape_end, &out->shape)) {
          return false;
        }
        have_shape = true;
        break;
      }
      case 0x18:  // shard_id
        if (!FastVarint(&p, limit, &v)) return false;
        out->shard_id = static_cast<int32_t>(v);
        break;
      case 0x20:  // offset
        if (!FastVarint(&p, limit, &out->offset)) return false;
        break;
      case 0x28:  // size
        if (!FastVarint(&p, limit, &out->size)) return false;
        break;
      case 0x35:  // crc32c
        if (limit - p < 4) return false;
        out->crc32c = DecodeFixed32(p);
        p += 4;
        break;
      default:
        return false;
    }
  }
  return true;
}

Status CheckCheckpointVersion(const VersionDef& v) {
  constexpr int64_t kConsumer = 1;
  if (v.producer < 0) {
    return Status::NotSupported("checkpoint producer version " + std::to_string(v.producer) +
                                " below min producer 0");
  }
  if (v.min_consumer > kConsumer) {
    return Status::NotSupported("checkpoint min consumer version " +
                                std::to_string(v.min_consumer) +
                                " above current version 1 (written by a newer TensorFlow)");
  }
  for (int64_t bad : v.bad_consumers) {
    if (bad == kConsumer) return Status::NotSupported("checkpoint disallows consumer version 1");
  }
  return Status::OK();
}

std::string SerializeTensorShape(const TensorShape& shape) {
  std::string out;
  for (int64_t d : shape.dims) {
    std::string dim;
    if (d != 0) PutVarintField(&dim, 1, static_cast<uint64_t>(d));
    PutBytesField(&out, 2, dim);
  }
  if (shape.unknown_rank) PutVarintField(&out, 3, 1);
  return out;
}

std::string SerializeTensorSlice(const TensorSlice& slice) {
  std::string out;
  for (const Extent& e : slice) {
    std::string extent;
    if (e.length != kFullExtent) {
      if (e.start != 0) PutVarintField(&extent, 1, static_cast<uint64_t>(e.start));
      PutVarintField(&extent, 2, static_cast<uint64_t>(e.length));
    }
    PutBytesField(&out, 1, extent);
  }
  return out;
}

std::string SerializeBundleHeader(const BundleHeader& header) {
  std::string out;
  if (header.num_shards != 0) PutVarintField(&out, 1, static_cast<uint64_t>(header.num_shards));
  if (header.endianness != 0) PutVarintField(&out, 2, static_cast<uint64_t>(header.endianness));
  std::string version;
  if (header.version.producer != 0) PutVarintField(&version, 1, header.version.producer);
  if (header.version.min_consumer != 0) PutVarintField(&version, 2, header.version.min_consumer);
  PutBytesField(&out, 3, version);
  return out;
}

std::string SerializeBundleEntry(const BundleEntry& e) {
  std::string out;
  if (e.dtype != 0) PutVarintField(&out, 1, static_cast<uint64_t>(e.dtype));
  PutBytesField(&out, 2, SerializeTensorShape(e.shape));
  if (e.shard_id != 0) PutVarintField(&out, 3, static_cast<uint64_t>(e.shard_id));
  if (e.offset != 0) PutVarintField(&out, 4, e.offset);
  if (e.size != 0) PutVarintField(&out, 5, e.size);
  if (e.slices.empty()) PutFixed32Field(&out, 6, e.crc32c);
  for (const TensorSlice& s : e.slices) PutBytesField(&out, 7, SerializeTensorSlice(s));
  return out;
}

}  // namespace ckptio
