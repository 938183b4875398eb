// TensorFlow's DataType enum (types.proto) and how each is stored in a bundle.
#pragma once

#include <cstdint>

namespace ckptio {

enum DataType : int {
  DT_INVALID = 0, DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_UINT8 = 4, DT_INT16 = 5,
  DT_INT8 = 6, DT_STRING = 7, DT_COMPLEX64 = 8, DT_INT64 = 9, DT_BOOL = 10, DT_QINT8 = 11,
  DT_QUINT8 = 12, DT_QINT32 = 13, DT_BFLOAT16 = 14, DT_QINT16 = 15, DT_QUINT16 = 16,
  DT_UINT16 = 17, DT_COMPLEX128 = 18, DT_HALF = 19, DT_RESOURCE = 20, DT_VARIANT = 21,
  DT_UINT32 = 22, DT_UINT64 = 23, DT_FLOAT8_E5M2 = 24, DT_FLOAT8_E4M3FN = 25,
  DT_FLOAT8_E4M3FNUZ = 26, DT_FLOAT8_E4M3B11FNUZ = 27, DT_FLOAT8_E5M2FNUZ = 28, DT_INT4 = 29,
  DT_UINT4 = 30, DT_INT2 = 31, DT_UINT2 = 32, DT_FLOAT4_E2M1FN = 33,
};

enum class Storage {
  kFixed,        // raw little-endian elements of elem_size bytes
  kString,       // varint lengths, masked length CRC, concatenated bytes
  kUnsupported,  // variant, resource, or unknown: listed but not read
};

struct DataTypeInfo {
  const char* enum_name;  // "DT_FLOAT", as DataType_Name gives it
  const char* name;  // TF's Python name: "float32", "bfloat16", "string", ...
  Storage storage;
  int elem_size;  // bytes per element for kFixed, else 0
};

// Info for any enum value; values this build does not know are named "unknown", unsupported.
DataTypeInfo GetDataTypeInfo(int64_t dtype);

}  // namespace ckptio
