#include "dtypes.h"

namespace ckptio {

DataTypeInfo GetDataTypeInfo(int64_t dtype) {
  using S = Storage;
  switch (dtype) {
    case DT_FLOAT: return {"DT_FLOAT", "float32", S::kFixed, 4};
    case DT_DOUBLE: return {"DT_DOUBLE", "float64", S::kFixed, 8};
    case DT_INT32: return {"DT_INT32", "int32", S::kFixed, 4};
    case DT_UINT8: return {"DT_UINT8", "uint8", S::kFixed, 1};
    case DT_INT16: return {"DT_INT16", "int16", S::kFixed, 2};
    case DT_INT8: return {"DT_INT8", "int8", S::kFixed, 1};
    case DT_STRING: return {"DT_STRING", "string", S::kString, 0};
    case DT_COMPLEX64: return {"DT_COMPLEX64", "complex64", S::kFixed, 8};
    case DT_INT64: return {"DT_INT64", "int64", S::kFixed, 8};
    case DT_BOOL: return {"DT_BOOL", "bool", S::kFixed, 1};
    case DT_QINT8: return {"DT_QINT8", "qint8", S::kFixed, 1};
    case DT_QUINT8: return {"DT_QUINT8", "quint8", S::kFixed, 1};
    case DT_QINT32: return {"DT_QINT32", "qint32", S::kFixed, 4};
    case DT_BFLOAT16: return {"DT_BFLOAT16", "bfloat16", S::kFixed, 2};
    case DT_QINT16: return {"DT_QINT16", "qint16", S::kFixed, 2};
    case DT_QUINT16: return {"DT_QUINT16", "quint16", S::kFixed, 2};
    case DT_UINT16: return {"DT_UINT16", "uint16", S::kFixed, 2};
    case DT_COMPLEX128: return {"DT_COMPLEX128", "complex128", S::kFixed, 16};
    case DT_HALF: return {"DT_HALF", "float16", S::kFixed, 2};
    case DT_RESOURCE: return {"DT_RESOURCE", "resource", S::kUnsupported, 0};
    case DT_VARIANT: return {"DT_VARIANT", "variant", S::kUnsupported, 0};
    case DT_UINT32: return {"DT_UINT32", "uint32", S::kFixed, 4};
    case DT_UINT64: return {"DT_UINT64", "uint64", S::kFixed, 8};
    case DT_FLOAT8_E5M2: return {"DT_FLOAT8_E5M2", "float8_e5m2", S::kFixed, 1};
    case DT_FLOAT8_E4M3FN: return {"DT_FLOAT8_E4M3FN", "float8_e4m3fn", S::kFixed, 1};
    case DT_FLOAT8_E4M3FNUZ: return {"DT_FLOAT8_E4M3FNUZ", "float8_e4m3fnuz", S::kFixed, 1};
    case DT_FLOAT8_E4M3B11FNUZ: return {"DT_FLOAT8_E4M3B11FNUZ", "float8_e4m3b11fnuz", S::kFixed, 1};
    case DT_FLOAT8_E5M2FNUZ: return {"DT_FLOAT8_E5M2FNUZ", "float8_e5m2fnuz", S::kFixed, 1};
    case DT_INT4: return {"DT_INT4", "int4", S::kFixed, 1};
    case DT_UINT4: return {"DT_UINT4", "uint4", S::kFixed, 1};
    case DT_INT2: return {"DT_INT2", "int2", S::kFixed, 1};
    case DT_UINT2: return {"DT_UINT2", "uint2", S::kFixed, 1};
    case DT_FLOAT4_E2M1FN: return {"DT_FLOAT4_E2M1FN", "float4_e2m1fn", S::kFixed, 1};
    default: return {"", "unknown", S::kUnsupported, 0};
  }
}

}  // namespace ckptio
