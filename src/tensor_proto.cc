#include "tensor_proto.h"

#include <cstring>

#include "proto_wire.h"

namespace ckptio {

namespace {

enum TensorProtoField : int {
  kTensorContent = 4, kFloatVal = 5, kDoubleVal = 6, kIntVal = 7, kStringVal = 8,
  kScomplexVal = 9, kInt64Val = 10, kBoolVal = 11, kDcomplexVal = 12, kHalfVal = 13,
  kUint32Val = 16, kUint64Val = 17,
};

constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

struct ValueField {
  int field;
  WireType element;    // wire type of one value
  int values_per_elem; // 2 for complex (re, im)
};

// Which field carries values of each dtype (saved_tensor_slice_util.h).
bool FieldFor(int64_t dtype, ValueField* f) {
  switch (dtype) {
    case DT_FLOAT: *f = {kFloatVal, kFixed32, 1}; return true;
    case DT_DOUBLE: *f = {kDoubleVal, kFixed64, 1}; return true;
    case DT_INT32: case DT_INT16: case DT_INT8: case DT_UINT8: case DT_UINT16:
    case DT_QINT8: case DT_QUINT8: case DT_QINT16: case DT_QUINT16: case DT_QINT32:
      *f = {kIntVal, kVarint, 1}; return true;
    case DT_INT64: *f = {kInt64Val, kVarint, 1}; return true;
    case DT_BOOL: *f = {kBoolVal, kVarint, 1}; return true;
    case DT_COMPLEX64: *f = {kScomplexVal, kFixed32, 2}; return true;
    case DT_COMPLEX128: *f = {kDcomplexVal, kFixed64, 2}; return true;
    case DT_HALF: case DT_BFLOAT16: *f = {kHalfVal, kVarint, 1}; return true;
    case DT_UINT32: *f = {kUint32Val, kVarint, 1}; return true;
    case DT_UINT64: *f = {kUint64Val, kVarint, 1}; return true;
    default: return false;
  }
}

}  // namespace

Status DecodeTensorProtoValues(std::string_view proto, int64_t dtype, uint64_t n, uint8_t* out) {
  const DataTypeInfo type = GetDataTypeInfo(dtype);
  ValueField f;
  if (type.storage != Storage::kFixed || !FieldFor(dtype, &f)) {
    return Status::NotSupported(std::string("V1 values of dtype ") + type.name + " cannot be read");
  }
  const uint64_t expected = n * uint64_t(f.values_per_elem);
  // Complex components are half an element wide.
  const size_t width = static_cast<size_t>(type.elem_size / f.values_per_elem);
  uint64_t count = 0;
  bool overflow = false;
  bool from_content = false;
  WireReader r(proto);
  while (r.Next()) {
    if (r.field() == kTensorContent && r.wire_type() == kLengthDelimited) {
      if (r.bytes().size() != n * uint64_t(type.elem_size) || count != 0) {
        return Status::Corruption("tensor_content size disagrees with the shape");
      }
      std::memcpy(out, r.bytes().data(), r.bytes().size());
      count = expected;
      from_content = true;
      continue;
    }
    if (r.field() != f.field) continue;
    if (from_content) return Status::Corruption("both tensor_content and typed values");
    if (kHostLittleEndian && f.element != kVarint && r.wire_type() == kLengthDelimited) {
      // Packed fixed-width values are already the little-endian array: copy them whole.
      const uint64_t values = r.bytes().size() / width;
      if (r.bytes().size() % width != 0) return Status::Corruption("malformed packed values");
      if (values > expected - count) {
        overflow = true;
        break;
      }
      std::memcpy(out + count * width, r.bytes().data(), r.bytes().size());
      count += values;
      continue;
    }
    const bool ok = ForEachPackedOrSingle(r, f.element, [&](uint64_t bits) {
      if (count >= expected) {
        overflow = true;
        return;
      }
      uint8_t le[8];
      for (size_t b = 0; b < 8; ++b) le[b] = static_cast<uint8_t>(bits >> (8 * b));
      std::memcpy(out + count * width, le, width);  // low bytes: narrows int32 -> int8 etc.
      ++count;
    });
    if (!ok) return Status::Corruption("malformed TensorProto values");
  }
  if (!r.ok()) return Status::Corruption("malformed TensorProto");
  if (overflow || count != expected) {
    return Status::Corruption("TensorProto holds " + std::string(overflow ? "more" : "fewer") +
                              " values than its shape needs (" + std::to_string(expected) + ")");
  }
  if (dtype == DT_BOOL) {
    for (uint64_t i = 0; i < n; ++i) out[i] = out[i] != 0;
  }
  return Status::OK();
}

Status FindRawTensorProtoValues(std::string_view proto, int64_t dtype, uint64_t n,
                                std::string_view* raw) {
  *raw = std::string_view();
  const DataTypeInfo type = GetDataTypeInfo(dtype);
  ValueField f;
  // Bools decode any nonzero byte as 1 (see above): their bytes are never the array itself.
  if (!kHostLittleEndian || dtype == DT_BOOL || type.storage != Storage::kFixed ||
      !FieldFor(dtype, &f)) {
    return Status::OK();
  }
  const uint64_t nbytes = n * uint64_t(type.elem_size);
  int fields = 0;
  std::string_view candidate;
  WireReader r(proto);
  while (r.Next()) {
    if (r.field() != f.field && r.field() != kTensorContent) continue;
    ++fields;
    const bool raw_field = r.field() == kTensorContent || f.element != kVarint;
    if (!raw_field || r.wire_type() != kLengthDelimited) return Status::OK();
    candidate = r.bytes();
  }
  if (!r.ok()) return Status::Corruption("malformed TensorProto");
  if (fields == 1 && candidate.size() == nbytes) *raw = candidate;
  return Status::OK();
}

Status DecodeTensorProtoStrings(std::string_view proto, uint64_t n,
                                std::vector<std::string>* out) {
  out->clear();
  WireReader r(proto);
  while (r.Next()) {
    if (r.field() != kStringVal) continue;
    if (r.wire_type() != kLengthDelimited) return Status::Corruption("malformed string_val");
    if (out->size() >= n) return Status::Corruption("TensorProto holds more strings than its shape");
    out->emplace_back(r.bytes());
  }
  if (!r.ok()) return Status::Corruption("malformed TensorProto");
  if (out->size() != n) return Status::Corruption("TensorProto holds fewer strings than its shape");
  return Status::OK();
}

}  // namespace ckptio
