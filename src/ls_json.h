// The JSON of `ckptio ls --json`, written directly: byte for byte what
// json.dumps(ensure_ascii=True) makes of the same values, without building Python objects.
#ifndef CKPTIO_LS_JSON_H_
#define CKPTIO_LS_JSON_H_

#include <pybind11/pybind11.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "dims.h"
#include "py_text.h"

namespace ckptio {

// A str as json.dumps(ensure_ascii=True) writes it (a Text, or a Python str: TypeError else).
void AppendJsonString(const Text& s, std::string* out);
void AppendJsonString(PyObject* s, std::string* out);
// A Python int as json.dumps writes it.
void AppendJsonInt(PyObject* v, std::string* out);

// An integer's decimal digits (as Python's repr writes them).
template <typename Int>
void AppendDecimal(Int v, std::string* out) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
  out->append(buf, end);
}

// The "tensors" array of `ls --json`, one tensor at a time in the order they are added:
// [{"name": ..., "dtype": ..., "shape": [...], "nbytes": ...}, ...].
class TensorsJson {
 public:
  explicit TensorsJson(size_t expected);
  void Add(const Text& name, const Text& dtype, DimsView dims,
           uint64_t nbytes);
  std::string Finish();

 private:
  std::string out_;
};

// _core.ls_json_tensors(rows): the same array from Python rows (name, dtype name, shape,
// elements, stored bytes).
pybind11::str LsJsonTensors(const pybind11::list& rows);

}  // namespace ckptio

#endif  // CKPTIO_LS_JSON_H_
