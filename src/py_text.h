// A name's characters as code points, read where they lie (a Python str's buffer or a key's
// bytes): what the natural order and the JSON writer of `ckptio ls` work on, without copies.
#ifndef CKPTIO_PY_TEXT_H_
#define CKPTIO_PY_TEXT_H_

#include <Python.h>

#include <string_view>

namespace ckptio {

// A name's characters as code points, wherever they are: a Python str's own buffer, or the
// bytes of a key that is pure ASCII (each byte its code point). Borrowed: the str or the
// reader must outlive it.
struct Text {
  const void* data;
  int kind;  // bytes per code point: 1, 2 or 4 (PyUnicode_KIND)
  Py_ssize_t size;
  Py_UCS4 max_char;  // an upper bound of its code points

  static Text Of(PyObject* s) {
    return {PyUnicode_DATA(s), PyUnicode_KIND(s), PyUnicode_GET_LENGTH(s),
            PyUnicode_MAX_CHAR_VALUE(s)};
  }
  static Text Ascii(std::string_view key) {
    return {key.data(), PyUnicode_1BYTE_KIND, static_cast<Py_ssize_t>(key.size()), 0x7f};
  }
  Py_UCS4 operator[](Py_ssize_t i) const { return PyUnicode_READ(kind, data, i); }
};

}  // namespace ckptio

#endif  // CKPTIO_PY_TEXT_H_
