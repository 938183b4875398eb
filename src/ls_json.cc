#include "ls_json.h"

#include <utility>

namespace py = pybind11;

namespace ckptio {

// A str as json.dumps(ensure_ascii=True) writes it: quotes, backslashes and the five short
// escapes as such, other code points outside ' '..'~' as \uXXXX (lower-case hex; astral ones
// as a surrogate pair; lone surrogates from surrogateescape as themselves).
void AppendJsonString(const Text& s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  auto unit = [&](uint32_t u) {
    const char esc[6] = {'\\', 'u', kHex[u >> 12], kHex[(u >> 8) & 15], kHex[(u >> 4) & 15],
                         kHex[u & 15]};
    out->append(esc, 6);
  };
  auto plain = [](uint32_t c) { return c >= ' ' && c <= '~' && c != '\\' && c != '"'; };
  const Py_ssize_t n = s.size;
  out->push_back('"');
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (s.kind == PyUnicode_1BYTE_KIND) {  // the common case: copy plain runs whole
      const auto* bytes = static_cast<const Py_UCS1*>(s.data);
      Py_ssize_t end = i;
      while (end < n && plain(bytes[end])) ++end;
      out->append(reinterpret_cast<const char*>(bytes + i), size_t(end - i));
      i = end;
      if (i == n) break;
    }
    const uint32_t c = s[i];
    if (plain(c)) {
      out->push_back(static_cast<char>(c));
      continue;
    }
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c >= 0x10000) {
          unit(0xd800 | ((c - 0x10000) >> 10));
          unit(0xdc00 | ((c - 0x10000) & 0x3ff));
        } else {
          unit(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonString(PyObject* s, std::string* out) {
  if (!PyUnicode_Check(s)) throw py::type_error("expected str");
  AppendJsonString(Text::Of(s), out);
}

// An int as json.dumps writes it (its decimal repr).
void AppendJsonInt(PyObject* v, std::string* out) {
  if (!PyLong_Check(v)) throw py::type_error("expected int");
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (overflow == 0) {
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    out->append(std::to_string(x));
    return;
  }
  out->append(std::string(py::str(v)));
}

TensorsJson::TensorsJson(size_t expected) {
  out_.reserve(96 * expected + 2);
  out_.push_back('[');
}

void TensorsJson::Add(const Text& name, const Text& dtype, DimsView dims,
                      uint64_t nbytes) {
  out_.append(out_.size() == 1 ? "{\"name\": " : ", {\"name\": ");
  AppendJsonString(name, &out_);
  out_.append(", \"dtype\": ");
  AppendJsonString(dtype, &out_);
  out_.append(", \"shape\": [");
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) out_.append(", ");
    AppendDecimal(dims[d], &out_);
  }
  out_.append("], \"nbytes\": ");
  AppendDecimal(nbytes, &out_);
  out_.push_back('}');
}

std::string TensorsJson::Finish() {
  out_.push_back(']');
  return std::move(out_);
}

py::str LsJsonTensors(const py::list& rows) {
  std::string out;
  out.reserve(64 * rows.size() + 2);
  out.push_back('[');
  bool first = true;
  for (py::handle row : rows) {
    if (!PyTuple_Check(row.ptr()) || PyTuple_GET_SIZE(row.ptr()) != 5) {
      throw py::type_error("rows are 5-tuples");
    }
    PyObject* const* t = &PyTuple_GET_ITEM(row.ptr(), 0);
    out.append(first ? "{\"name\": " : ", {\"name\": ");
    first = false;
    AppendJsonString(t[0], &out);
    out.append(", \"dtype\": ");
    AppendJsonString(t[1], &out);
    out.append(", \"shape\": [");
    PyObject* dims = t[2];
    if (!PyTuple_Check(dims) && !PyList_Check(dims)) throw py::type_error("shape is a tuple");
    const Py_ssize_t rank = PySequence_Fast_GET_SIZE(dims);
    PyObject** items = PySequence_Fast_ITEMS(dims);
    for (Py_ssize_t i = 0; i < rank; ++i) {
      if (i) out.append(", ");
      AppendJsonInt(items[i], &out);
    }
    out.append("], \"nbytes\": ");
    AppendJsonInt(t[4], &out);
    out.push_back('}');
  }
  out.push_back(']');
  return py::str(out);
}

}  // namespace ckptio
