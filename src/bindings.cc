// ckptio._core: thin pybind11 bindings over the format core. Status values become Python
// exceptions in exactly one place (RaiseStatus); arrays are zero-copy views whose base keeps
// the mapped shard alive.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <unordered_map>
#include <vector>

#include "bundle_reader.h"
#include "bundle_writer.h"
#include "crc32c.h"
#include "ls_json.h"
#include "natural_order.h"
#include "ordered_code.h"
#include "py_gil.h"
#include "slice_geometry.h"
#include "snappy.h"
#include "v1_reader.h"

namespace py = pybind11;
using namespace ckptio;

namespace {

struct StatusError : std::exception {
  explicit StatusError(Status s) : status(std::move(s)) {}
  const char* what() const noexcept override { return status.message().c_str(); }
  Status status;
};

void Check(Status s) {
  if (!s.ok()) throw StatusError(std::move(s));
}

bool IsAscii(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {  // a word at a time: keys are mostly dozens of bytes
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return false;
  }
  for (; n > 0; ++p, --n) {
    if (static_cast<unsigned char>(*p) >= 0x80) return false;
  }
  return true;
}

py::str DecodeKey(std::string_view key) {
  if (IsAscii(key)) {  // most keys: copied as they are, without the decoder's machinery
    PyObject* s = PyUnicode_New(static_cast<Py_ssize_t>(key.size()), 127);
    if (s == nullptr) throw py::error_already_set();
    if (!key.empty()) std::memcpy(PyUnicode_1BYTE_DATA(s), key.data(), key.size());
    return py::reinterpret_steal<py::str>(s);
  }
  // Keys are bytes; names that are not UTF-8 (slice keys) round-trip through surrogateescape.
  PyObject* s = PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()),
                                     "surrogateescape");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

std::string EncodeKey(py::handle name) {
  if (PyBytes_Check(name.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(name));
  if (!PyUnicode_Check(name.ptr())) throw py::type_error("tensor names are str or bytes");
  Py_ssize_t size;
  const char* utf8 = PyUnicode_AsUTF8AndSize(name.ptr(), &size);
  if (utf8 != nullptr) return std::string(utf8, static_cast<size_t>(size));
  PyErr_Clear();
  PyObject* b = PyUnicode_AsEncodedString(name.ptr(), "utf-8", "surrogateescape");
  if (b == nullptr) throw py::error_already_set();
  return std::string(py::reinterpret_steal<py::bytes>(b));
}

void RaiseStatus(const Status& s) {
  py::object from_status = py::module_::import("ckptio.errors").attr("from_status");
  py::object key = s.has_key() ? py::object(DecodeKey(s.key())) : py::object(py::none());
  py::object file = s.file().empty() ? py::object(py::none()) : py::object(py::str(s.file()));
  py::object exc = from_status(static_cast<int>(s.code()), s.message(), file, key);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

void MakeReadOnly(py::array& a) {
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

// numpy dtypes by TF enum, installed once by ckptio._dtypes (bfloat16 etc. come from ml_dtypes).
std::array<PyObject*, 64> g_numpy_dtypes{};

// Filled on first use (not at import: listing a checkpoint should not need numpy).
void EnsureNumpyDtypes() {
  static bool installed = false;
  if (!installed) {
    py::module_::import("ckptio._dtypes").attr("install")();
    installed = true;
  }
}

py::dtype NumpyDtype(int64_t code, const DataTypeInfo& type, std::string_view key) {
  EnsureNumpyDtypes();
  if (code < 0 || code >= int64_t(g_numpy_dtypes.size()) || g_numpy_dtypes[code] == nullptr) {
    Check(Status::NotSupported(std::string("no numpy dtype for ") + type.name +
                               " (install ml_dtypes for bfloat16/float8/int4)")
              .WithKey(key));
  }
  return py::reinterpret_borrow<py::dtype>(g_numpy_dtypes[code]);
}

std::vector<py::ssize_t> Shape(DimsView dims) { return {dims.begin(), dims.end()}; }

// numpy cannot hold every shape a checkpoint can: TF allows 254 dimensions (numpy 64, or 32
// before numpy 2), and the other dimensions of an empty tensor may multiply past what numpy can
// address. Such tensors are listed, but reading one is NotSupported naming its file and key
// (numpy's ValueError would name neither).
template <typename Make>
py::array NumpyArray(const std::string& file, std::string_view key, Make make) {
  try {
    return make();
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_ValueError)) throw;
    Check(Status::NotSupported(std::string("numpy cannot hold this tensor's shape (") + e.what() +
                               ")")
              .WithFile(file)
              .WithKey(key));
  }
  return py::array();  // not reached: Check threw
}

// An object array of bytes: read-only like every array ckptio hands out, unless `writable` (a
// copy the caller asked for, which nobody else holds).
template <typename Strings>
py::array BytesArray(const Strings& elements, DimsView dims,
                     bool writable = false) {
  py::array out(py::dtype("O"), Shape(dims));
  auto** slots = static_cast<PyObject**>(out.mutable_data());
  for (size_t i = 0; i < elements.size(); ++i) {
    PyObject* b = PyBytes_FromStringAndSize(elements[i].data(),
                                            static_cast<Py_ssize_t>(elements[i].size()));
    if (b == nullptr) throw py::error_already_set();
    Py_XDECREF(slots[i]);
    slots[i] = b;
  }
  if (!writable) MakeReadOnly(out);
  return out;
}

py::tuple ShapeTuple(DimsView dims) {
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(dims.size()));
  if (t == nullptr) throw py::error_already_set();
  for (size_t i = 0; i < dims.size(); ++i) {
    PyObject* d = PyLong_FromLongLong(dims[i]);
    if (d == nullptr) {
      Py_DECREF(t);
      throw py::error_already_set();
    }
    PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), d);
  }
  return py::reinterpret_steal<py::tuple>(t);
}

// One shape tuple per distinct shape within a listing, not one per key: checkpoints repeat a
// few shapes many times (tuples are immutable, so sharing them is invisible).
class ShapeTuples {
 public:
  py::handle Get(DimsView dims) {
    // Neighbours in key order often share a shape (a variable and its optimizer slots).
    if (last_ != nullptr && last_->first == dims) return last_->second;
    Dims key(dims);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(std::move(key), ShapeTuple(dims)).first;
    last_ = &*it;
    return it->second;
  }

 private:
  struct Hash {
    size_t operator()(const Dims& dims) const {
      size_t h = dims.size();
      for (int64_t d : dims) h = h * 1000003u ^ std::hash<int64_t>()(d);
      return h;
    }
  };
  std::unordered_map<Dims, py::tuple, Hash> cache_;
  const std::pair<const Dims, py::tuple>* last_ = nullptr;  // (nodes stay put)
};

// An empty dict with room for n entries: no regrowth while a listing fills it.
py::dict PresizedDict(size_t n) {
  PyObject* d = _PyDict_NewPresized(static_cast<Py_ssize_t>(n));
  if (d == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::dict>(d);
}

// One Python string per dtype name within a listing, not one per key.
class DtypeNames {
 public:
  py::str Get(int64_t code, const char* name) {
    auto it = cache_.find(code);
    if (it == cache_.end()) it = cache_.emplace(code, py::str(name)).first;
    return it->second;
  }

 private:
  std::unordered_map<int64_t, py::str> cache_;
};


// What Checkpoint.dtypes() gives for a TF enum: the numpy dtype, "string" for strings, else TF's
// own name (dtypes numpy cannot hold). One lookup per distinct dtype, not per key.
class DtypeObjects {
 public:
  DtypeObjects() { EnsureNumpyDtypes(); }
  py::object Get(int64_t code, const char* name) {
    auto it = cache_.find(code);
    if (it != cache_.end()) return it->second;
    py::object value;
    if (code == DT_STRING) {
      value = py::str("string");
    } else if (code >= 0 && code < int64_t(g_numpy_dtypes.size()) && g_numpy_dtypes[code]) {
      value = py::reinterpret_borrow<py::object>(g_numpy_dtypes[code]);
    } else {
      value = py::str(name);
    }
    return cache_.emplace(code, value).first->second;
  }

 private:
  std::unordered_map<int64_t, py::object> cache_;
};

// Set d[key] = value stealing nothing: the dict keeps its own references (PyDict_SetItem),
// without pybind11's accessor objects per entry.
void DictSet(py::dict& d, const py::handle& key, const py::handle& value) {
  if (PyDict_SetItem(d.ptr(), key.ptr(), value.ptr()) != 0) throw py::error_already_set();
}

// The Status for an exception raised by Python source code: missing objects and ckptio's own
// errors keep their kind, anything else is an I/O error naming the path.
Status StatusFromPython(py::error_already_set& e, const std::string& path) {
  // ckptio's errors carry the bare message (their str() already prefixes file and key).
  const std::string message = py::str(py::getattr(e.value(), "message", e.value()));
  if (e.matches(PyExc_FileNotFoundError)) return Status::NotFound(message).WithFile(path);
  py::module_ errors = py::module_::import("ckptio.errors");
  if (e.matches(errors.attr("NotFoundError"))) return Status::NotFound(message).WithFile(path);
  if (e.matches(errors.attr("CorruptionError"))) return Status::Corruption(message).WithFile(path);
  if (e.matches(errors.attr("UnsupportedError"))) return Status::NotSupported(message).WithFile(path);
  return Status::IOError(message).WithFile(path);
}

// A DataSource implemented in Python: any object with an int `size` and `read(offset, n)`
// returning exactly n bytes (ckptio.remote wraps fsspec files this way). The C++ side calls it
// with the GIL taken, so readers may use it from GIL-released code too.
class PySource : public DataSource {
 public:
  PySource(std::string path, py::object impl, uint64_t size)
      : path_(std::move(path)), impl_(std::move(impl)), size_(size) {}
  ~PySource() override {
    GilHeld gil;
    impl_ = py::object();
  }
  const std::string& path() const override { return path_; }
  uint64_t size() const override { return size_; }

  Status Read(uint64_t offset, uint64_t n, ByteRange* out) const override {
    GilHeld gil;
    try {
      py::object data = impl_.attr("read")(offset, n);
      if (!PyBytes_Check(data.ptr())) return Status::IOError("source returned no bytes").WithFile(path_);
      if (uint64_t(PyBytes_GET_SIZE(data.ptr())) != n) {
        return Status::Corruption("short read: got " + std::to_string(PyBytes_GET_SIZE(data.ptr())) +
                                  " of " + std::to_string(n) + " bytes").WithFile(path_);
      }
      out->size = n;
      if (Py_REFCNT(data.ptr()) > 1) {
        // Someone else holds these bytes too (a cache, CPython's one-byte singletons): views
        // would alias memory others read, and a write through torch or ctypes would change
        // it. Copy them; bytes only we hold are handed out as they are.
        auto own = std::make_shared<std::vector<uint8_t>>(n);
        if (n > 0) std::memcpy(own->data(), PyBytes_AS_STRING(data.ptr()), n);  // (null if empty)
        out->data = own->data();
        out->owner = std::move(own);
        return Status::OK();
      }
      out->data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(data.ptr()));
      PyObject* held = data.release().ptr();
      out->owner = std::shared_ptr<const void>(held, [](const void* p) {
        GilHeld gil;
        Py_DECREF(static_cast<PyObject*>(const_cast<void*>(p)));
      });
      return Status::OK();
    } catch (py::error_already_set& e) {
      // Exceptions of the source (network errors after retries) keep their message and path.
      return StatusFromPython(e, path_);
    }
  }

 private:
  std::string path_;
  py::object impl_;
  uint64_t size_;
};

// A SourceOpener calling a Python `opener(path) -> source`; FileNotFoundError means NotFound.
SourceOpener PythonOpener(py::object opener) {
  auto shared = std::make_shared<py::object>(std::move(opener));
  // The opener object is released with the GIL held, whichever thread drops the last copy.
  std::shared_ptr<py::object> guarded(new py::object(*shared), [](py::object* o) {
    GilHeld gil;
    delete o;
  });
  shared.reset();
  return [guarded](const std::string& path, std::shared_ptr<const DataSource>* out) -> Status {
    GilHeld gil;
    try {
      py::object source = (*guarded)(path);
      const uint64_t size = source.attr("size").cast<uint64_t>();
      *out = std::make_shared<PySource>(path, std::move(source), size);
      return Status::OK();
    } catch (py::error_already_set& e) {
      return StatusFromPython(e, path);
    }
  };
}

// What the shared reader code needs of one entry, for either format: a V2 index record or a V1
// tensor. Overloads, so both binding classes list, look up and describe entries alike.
std::string_view KeyOf(const TensorRecord& r) { return r.key; }
const std::string& KeyOf(const V1Tensor& t) { return t.name; }
const Dims& DimsOf(const TensorRecord& r) { return r.entry.shape.dims; }
const Dims& DimsOf(const V1Tensor& t) { return t.shape.dims; }
int64_t DtypeOf(const TensorRecord& r) { return r.entry.dtype; }
int64_t DtypeOf(const V1Tensor& t) { return t.dtype; }
// Slice keys owned by a partitioned V2 tensor are listed under the full name (as TF does).
bool Listed(const TensorRecord& r) { return r.listed; }
bool Listed(const V1Tensor&) { return true; }
// Stored bytes: all slices for a partitioned V2 tensor; V1 values are decoded, so their size.
uint64_t StoredBytes(const TensorRecord& r) {
  uint64_t nbytes = r.entry.size;
  for (const TensorRecord* part : r.slice_records) nbytes += part->entry.size;
  return nbytes;
}
uint64_t StoredBytes(const V1Tensor& t) { return t.num_elements * uint64_t(t.type.elem_size); }

const std::vector<TensorRecord>& Entries(const BundleReader& reader) { return reader.records(); }
const std::vector<V1Tensor>& Entries(const V1Reader& reader) { return reader.tensors(); }
// The file a "key not found" error names.
std::string MainFile(const BundleReader& reader) { return reader.index_path(); }
std::string MainFile(const V1Reader& reader) {
  return reader.files().empty() ? "" : reader.files()[0];
}

// TF's CheckpointReader.debug_string() line: "<key> (<DT_NAME>) <shape>". V2 skips partitioned
// full entries (their raw slice keys are lines of their own); V1 notes its slice count (TF's
// own V1 line order is an unordered_map's; ours is sorted).
void AppendDebugHead(std::string_view key, const DataTypeInfo& type,
                     DimsView dims, std::string* out) {
  out->append(key).append(" (").append(type.enum_name).append(") ").append(ShapeString(dims));
}
void AppendDebugLine(const TensorRecord& r, std::string* out) {
  if (r.partitioned()) return;
  AppendDebugHead(r.key, r.type, r.entry.shape.dims, out);
  *out += "\n";
}
void AppendDebugLine(const V1Tensor& t, std::string* out) {
  AppendDebugHead(t.name, t.type, t.shape.dims, out);
  if (t.parts.size() > 1) *out += ", " + std::to_string(t.parts.size()) + " slices";
  *out += "\n";
}

// A read-only numpy view of bytes whose storage `bytes.owner` keeps alive (the mapping or a
// fetched buffer): the view's base holds that reference.
py::array ViewOf(const std::string& file, std::string_view key, const py::dtype& dtype,
                 DimsView dims, ByteRange bytes) {
  auto* keep = new std::shared_ptr<const void>(std::move(bytes.owner));
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  py::array view = NumpyArray(file, key, [&] {
    return py::array(dtype, Shape(dims), std::vector<py::ssize_t>{}, bytes.data, base);
  });
  MakeReadOnly(view);
  return view;
}

// _core.natural_order(names, sizes=None): the permutation sorting `names` (and descending
// `sizes` first), or None where Python must sort (a huge digit run, a size past 64 bits).
py::object NaturalOrderOf(const py::list& names, const py::object& sizes) {
  std::vector<Text> strs;
  strs.reserve(names.size());
  for (py::handle name : names) {
    if (!PyUnicode_Check(name.ptr())) throw py::type_error("names are str");
    strs.push_back(Text::Of(name.ptr()));
  }
  std::vector<uint64_t> size_values;
  if (!sizes.is_none()) {
    const py::list size_list = sizes.cast<py::list>();
    if (size_list.size() != strs.size()) throw py::value_error("one size per name");
    size_values.reserve(strs.size());
    for (py::handle v : size_list) {
      if (!PyLong_Check(v.ptr())) throw py::type_error("sizes are int");
      const unsigned long long x = PyLong_AsUnsignedLongLong(v.ptr());
      if (x == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();  // negative or past 64 bits
        return py::none();
      }
      size_values.push_back(x);
    }
  }
  std::vector<uint32_t> order;
  if (!NaturalOrder(strs, sizes.is_none() ? nullptr : &size_values, &order)) return py::none();
  py::list out(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    PyObject* v = PyLong_FromUnsignedLong(order[i]);
    if (v == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), v);
  }
  return out;
}

// A Python int from a 128-bit sum (sums of 64-bit sizes can pass 2^64).
py::int_ IntFromU128(unsigned __int128 v) {
  if (v <= UINT64_MAX) return py::int_(static_cast<uint64_t>(v));
  std::string digits;
  for (; v != 0; v /= 10) digits.insert(digits.begin(), static_cast<char>('0' + int(v % 10)));
  PyObject* i = PyLong_FromString(digits.c_str(), nullptr, 10);
  if (i == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::int_>(i);
}

// The Python class `Reader`, base of both reader bindings: each method is registered once, on
// it, and reaches the format's own implementation through these virtuals.
class PyReaderBase {
 public:
  virtual ~PyReaderBase() = default;
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  virtual std::string prefix() const = 0;
  virtual int64_t num_shards() const = 0;
  virtual py::list Names() const = 0;
  virtual py::list Summary() const = 0;
  virtual py::dict ShapeMap() const = 0;
  virtual py::dict DtypeMap() const = 0;
  virtual py::dict DtypeNameMap() const = 0;
  virtual py::dict NbytesMap() const = 0;
  virtual py::object Ls(const py::object& names, bool by_size, bool as_json) const = 0;
  virtual py::list PartitionedNames() const = 0;
  virtual py::dict Info(py::handle name) const = 0;
  virtual py::array Tensor(py::handle name, bool copy, bool verify) = 0;
  virtual py::bytes DebugString() const = 0;
  virtual void Verify(py::handle name) const = 0;
  virtual void DetachViews() = 0;
};

// What both binding classes share: opening (GIL released), closing, the listings, lookup,
// verification and TF's debug string. Subclasses add reading tensors and their info.
template <typename Reader>
class PyReader : public PyReaderBase {
 public:
  using Entry = typename std::decay_t<decltype(Entries(std::declval<const Reader&>()))>::value_type;

  template <typename Where>
  PyReader(const Where& where, py::object opener) {
    std::unique_ptr<Reader> reader;
    Status s;
    SourceOpener open = opener.is_none() ? SourceOpener(OpenMappedSource) : PythonOpener(opener);
    {
      GilReleased released;
      s = Reader::Open(where, &reader, std::move(open));
    }
    Check(s);
    reader_ = std::move(reader);
  }

  bool closed() const final { return reader_ == nullptr; }

  py::list Names() const final {
    auto reader = Get();
    py::list names;
    for (const Entry& e : Entries(*reader)) {
      if (Listed(e)) names.append(DecodeKey(KeyOf(e)));
    }
    return names;
  }

  // (name, dtype name, shape, stored bytes) of every listed key, in key order: what
  // `ckptio ls` prints, built in one pass.
  py::list Summary() const final {
    auto reader = Get();
    py::list out;
    DtypeNames names;
    ShapeTuples shapes;
    for (const Entry& e : Entries(*reader)) {
      if (!Listed(e)) continue;
      out.append(py::make_tuple(DecodeKey(KeyOf(e)), names.Get(DtypeOf(e), e.type.name),
                                shapes.Get(DimsOf(e)), StoredBytes(e)));
    }
    return out;
  }

  // {name: shape} in one pass: the listing people ask for first, kept cheap.
  py::dict ShapeMap() const final {
    ShapeTuples shapes;
    return MapOf([&](const Entry& e) { return shapes.Get(DimsOf(e)); });
  }

  // {name: numpy dtype | "string" | TF name}, as cheap as the shape map: one dtype object per
  // distinct dtype, shared by every key.
  py::dict DtypeMap() const final {
    DtypeObjects dtypes;
    return MapOf([&](const Entry& e) { return dtypes.Get(DtypeOf(e), e.type.name); });
  }

  // {name: TF dtype name}.
  py::dict DtypeNameMap() const final {
    DtypeNames names;
    return MapOf([&](const Entry& e) { return names.Get(DtypeOf(e), e.type.name); });
  }

  // {name: stored bytes (all slices, for a partitioned tensor)}.
  py::dict NbytesMap() const final {
    return MapOf([](const Entry& e) { return py::int_(StoredBytes(e)); });
  }

  // What `ckptio ls` prints of `names` (every listed key when None), in natural order (by
  // descending stored bytes first when `by_size`): (count, parameters, stored bytes, tensors),
  // where tensors is the JSON array `ls --json` writes (`as_json`) or else a list of rows
  // (name, dtype name, shape, stored bytes). None when the names need Python's own sort.
  py::object Ls(const py::object& names, bool by_size, bool as_json) const final {
    auto reader = Get();
    std::vector<const Entry*> entries;
    std::vector<Text> texts;      // of the names: strs, or the keys' own bytes (ASCII, JSON)
    std::vector<PyObject*> strs;  // the names, borrowed from `names` or `decoded`
    py::list decoded;
    if (names.is_none()) {
      entries.reserve(Entries(*reader).size());
      bool ascii = true;
      for (const Entry& e : Entries(*reader)) {
        if (!Listed(e)) continue;
        entries.push_back(&e);
        ascii = ascii && IsAscii(KeyOf(e));
      }
      texts.reserve(entries.size());
      if (ascii && as_json) {  // JSON from the keys' bytes: no Python string per name
        for (const Entry* e : entries) texts.push_back(Text::Ascii(KeyOf(*e)));
      } else {
        decoded = py::list(entries.size());
        for (size_t i = 0; i < entries.size(); ++i) {
          PyObject* name = DecodeKey(KeyOf(*entries[i])).release().ptr();
          PyList_SET_ITEM(decoded.ptr(), static_cast<Py_ssize_t>(i), name);
          strs.push_back(name);
          texts.push_back(Text::Of(name));
        }
      }
    } else {
      const py::list& given = names.cast<py::list>();  // (held by the caller)
      for (py::handle name : given) {
        if (!PyUnicode_Check(name.ptr())) throw py::type_error("tensor names are str");
        entries.push_back(&Lookup(*reader, name));
        strs.push_back(name.ptr());
        texts.push_back(Text::Of(name.ptr()));
      }
    }
    std::vector<uint64_t> sizes(entries.size());
    unsigned __int128 parameters = 0, total = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      sizes[i] = StoredBytes(*entries[i]);
      parameters += entries[i]->num_elements;
      total += sizes[i];
    }
    std::vector<uint32_t> order;
    if (!NaturalOrder(texts, by_size ? &sizes : nullptr, &order)) return py::none();
    py::object tensors;
    if (as_json) {
      TensorsJson json(order.size());
      for (uint32_t i : order) {
        const Entry& e = *entries[i];
        json.Add(texts[i], Text::Ascii(e.type.name), DimsOf(e), sizes[i]);  // (dtype names: ASCII)
      }
      tensors = py::str(json.Finish());
    } else {
      DtypeNames dtype_names;
      ShapeTuples shapes;
      py::list rows(order.size());
      for (size_t k = 0; k < order.size(); ++k) {
        const uint32_t i = order[k];
        const Entry& e = *entries[i];
        py::tuple row = py::make_tuple(py::handle(strs[i]), dtype_names.Get(DtypeOf(e), e.type.name),
                                       shapes.Get(DimsOf(e)), sizes[i]);
        PyList_SET_ITEM(rows.ptr(), static_cast<Py_ssize_t>(k), row.release().ptr());
      }
      tensors = rows;
    }
    return py::make_tuple(entries.size(), IntFromU128(parameters), IntFromU128(total), tensors);
  }

  // Check one key's checksums, or every key's when name is None. GIL released.
  void Verify(py::handle name) const final {
    auto reader = Get();
    Status s;
    if (name.is_none()) {
      GilReleased released;
      s = reader->VerifyAll();
    } else {
      const Entry& e = Lookup(*reader, name);
      GilReleased released;
      s = reader->Verify(e);
    }
    Check(s);
  }

  // TF's CheckpointReader.debug_string(), one line per key in key order.
  py::bytes DebugString() const final {
    auto reader = Get();
    std::string out;
    for (const Entry& e : Entries(*reader)) AppendDebugLine(e, &out);
    return py::bytes(out);
  }

 protected:
  std::shared_ptr<const Reader> Get() const {
    if (!reader_) Check(Status::InvalidArgument("checkpoint is closed"));
    return reader_;
  }

  static const Entry& Lookup(const Reader& reader, py::handle name) {
    const std::string key = EncodeKey(name);
    const Entry* e = reader.Find(key);
    if (e == nullptr) {
      Check(Status::NotFound("key not found in checkpoint").WithFile(MainFile(reader)).WithKey(key));
    }
    return *e;
  }

  // The fields of info() both formats have.
  static py::dict CommonInfo(const Entry& e) {
    py::dict d;
    d["name"] = DecodeKey(KeyOf(e));
    d["dtype_enum"] = DtypeOf(e);
    d["dtype_name"] = e.type.name;
    d["shape"] = ShapeTuple(DimsOf(e));
    d["num_elements"] = e.num_elements;
    return d;
  }

  // {name: value(entry)} over the listed entries, without pybind11 accessors per entry.
  template <typename Value>
  py::dict MapOf(Value value) const {
    auto reader = Get();
    py::dict out = PresizedDict(Entries(*reader).size());
    for (const Entry& e : Entries(*reader)) {
      if (Listed(e)) DictSet(out, DecodeKey(KeyOf(e)), value(e));
    }
    return out;
  }

  std::shared_ptr<const Reader> reader_;
};

class PyBundleReader : public PyReader<BundleReader> {
 public:
  using PyReader::PyReader;

  void Close() override { reader_.reset(); }

  py::list PartitionedNames() const override {
    auto reader = Get();
    py::list names;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed && r.partitioned()) names.append(DecodeKey(r.key));
    }
    return names;
  }

  // Everything known about one key, as a dict for the Python TensorInfo.
  py::dict Info(py::handle name) const override {
    auto reader = Get();
    const TensorRecord& r = Lookup(*reader, name);
    py::dict d = CommonInfo(r);
    d["size"] = r.entry.size;
    d["shard"] = r.partitioned() ? py::object(py::none()) : py::object(py::int_(r.entry.shard_id));
    d["offset"] = r.partitioned() ? py::object(py::none()) : py::object(py::int_(r.entry.offset));
    d["masked_crc32c"] = r.entry.crc32c;
    d["data_path"] = r.partitioned() ? py::object(py::none()) : py::object(py::str(reader->ShardPath(r.entry.shard_id)));
    py::list slices;
    for (size_t i = 0; i < r.entry.slices.size(); ++i) {
      SliceGeometry g = ResolveSlice(r.entry.slices[i], r.entry.shape.dims);
      slices.append(py::make_tuple(ShapeTuple(g.starts), ShapeTuple(g.lengths),
                                   py::bytes(r.slice_records[i]->key.data(), r.slice_records[i]->key.size())));
    }
    d["slices"] = slices;
    d["slices_cover_tensor"] = r.slices_cover_tensor;
    d["sliced"] = r.partitioned();
    return d;
  }

  // The tensor stored under `name` (an unpartitioned key): a read-only view of the mapped
  // shard, or with copy=True a fresh array (copied with the GIL released, CRC checked in the
  // same pass when verify=True). Strings come back as an object array of bytes.
  py::array Tensor(py::handle name, bool copy, bool verify) override {
    auto reader = Get();
    const TensorRecord& r = Lookup(*reader, name);
    if (r.partitioned()) {
      Check(Status::InvalidArgument("partitioned tensor: read it through its slices")
                .WithKey(r.key));
    }
    ByteRange bytes;
    Check(reader->Data(r, &bytes));  // first: its errors name the files (unreadable dtypes too)
    if (r.type.storage == Storage::kString) return Strings(*reader, r, bytes, verify, copy);
    py::dtype dtype = NumpyDtype(r.entry.dtype, r.type, r.key);
    if (copy || r.entry.size == 0) {
      py::array out = NumpyArray(reader->index_path(), r.key,
                                 [&] { return py::array(dtype, Shape(r.entry.shape.dims)); });
      auto* dst = static_cast<uint8_t*>(out.mutable_data());
      Status s;
      {
        GilReleased released;
        s = reader->CopyTo(r, bytes.data, dst, verify);
      }
      Check(s);
      if (!copy) MakeReadOnly(out);
      return out;
    }
    if (verify) {
      Status s;
      {
        GilReleased released;
        s = reader->VerifyData(r, bytes.data);  // the bytes in hand: no second fetch
      }
      Check(s);
    }
    return ViewOf(reader->index_path(), r.key, dtype, r.entry.shape.dims, std::move(bytes));
  }

  // Ask for the stored bytes of `names` ahead of their reads (not waiting; bytes already cached
  // are not asked for again); returns the bytes covered. Unknown names are skipped: a hint
  // must not raise where the read itself would report them.
  uint64_t Prefetch(py::iterable names) const {
    auto reader = Get();
    std::vector<const TensorRecord*> records;
    for (py::handle name : names) {
      if (!PyUnicode_Check(name.ptr())) continue;
      const TensorRecord* r = reader->Find(EncodeKey(name));
      if (r != nullptr) records.push_back(r);
    }
    GilReleased released;
    uint64_t bytes = 0;
    for (const TensorRecord* r : records) bytes += reader->Prefetch(*r);
    return bytes;
  }

  std::string prefix() const override { return Get()->prefix(); }
  int64_t num_shards() const override { return Get()->num_shards(); }
  // Later views get mappings of their own; views handed out so far keep theirs.
  void DetachViews() override { Get()->ForgetShards(); }

 private:
  // A string tensor as an object array of bytes; writable when it is a copy.
  static py::array Strings(const BundleReader& reader, const TensorRecord& r,
                           const ByteRange& bytes, bool verify, bool copy) {
    if (verify) Check(reader.VerifyData(r, bytes.data));
    std::vector<std::string_view> elements;
    Check(reader.DecodeStrings(r, bytes.data, &elements));
    return NumpyArray(reader.index_path(), r.key,
                      [&] { return BytesArray(elements, r.entry.shape.dims, copy); });
  }
};


// V1 files hold values as TensorProtos: each tensor is decoded once (GIL released) into an
// array that is cached and handed out read-only, so repeated reads are free like V2 views.
class PyV1Reader : public PyReader<V1Reader> {
 public:
  using PyReader::PyReader;

  void Close() override {
    reader_.reset();
    cache_.clear();
  }

  // Later reads get memory of their own (fresh mappings, no cached decodes); arrays handed out
  // so far keep theirs.
  void DetachViews() override {
    Get()->ForgetViews();
    cache_.clear();
  }

  py::list PartitionedNames() const override { return py::list(); }  // assembled in the core

  py::dict Info(py::handle name) const override {
    auto reader = Get();
    const V1Tensor& t = Lookup(*reader, name);
    py::dict d = CommonInfo(t);
    d["size"] = StoredBytes(t);
    d["shard"] = t.parts.empty() ? py::object(py::none()) : py::object(py::int_(t.parts[0].file));
    d["offset"] = py::none();
    d["slices"] = py::list();
    d["slices_cover_tensor"] = t.parts_cover_tensor;
    d["sliced"] = t.parts.size() > 1;
    return d;
  }

  py::array Tensor(py::handle name, bool copy, bool verify) override {
    auto reader = Get();
    const V1Tensor& t = Lookup(*reader, name);
    // V1 has no per-tensor checksums, only block CRCs: verify=True checks those first.
    if (verify) Verify(name);
    auto cached = cache_.find(t.name);
    py::array value;
    if (cached != cache_.end()) {
      value = py::reinterpret_borrow<py::array>(cached->second);
    } else if (t.type.storage == Storage::kString) {
      std::vector<std::string> elements;
      Status s;
      {
        GilReleased released;
        s = reader->ReadStrings(t, &elements);
      }
      Check(s);
      value = NumpyArray(FileOf(*reader, t), t.name,
                         [&] { return BytesArray(elements, t.shape.dims); });
      cache_.emplace(t.name, value);
    } else {
      if (t.type.storage != Storage::kFixed) {
        Check(Status::NotSupported(std::string("cannot read dtype ") + t.type.name)
                  .WithKey(t.name)
                  .WithFile(FileOf(*reader, t)));
      }
      py::dtype dtype = NumpyDtype(t.dtype, t.type, t.name);
      ByteRange raw;
      bool viewable = false;
      if (!copy) Check(reader->RawView(t, &raw, &viewable));
      // The packed values in the file are the array itself: a zero-copy view, as for V2.
      if (viewable) return ViewOf(FileOf(*reader, t), t.name, dtype, t.shape.dims, std::move(raw));
      py::array out = NumpyArray(FileOf(*reader, t), t.name,
                                 [&] { return py::array(dtype, Shape(t.shape.dims)); });
      auto* dst = static_cast<uint8_t*>(out.mutable_data());
      Status s;
      {
        GilReleased released;
        s = reader->ReadFixed(t, dst);
      }
      Check(s);
      if (copy) return out;  // a fresh array nobody else holds: no cache, no second copy
      MakeReadOnly(out);
      value = out;
      cache_.emplace(t.name, value);
    }
    if (copy) return py::array::ensure(value.attr("copy")());
    // A view of the cached array, not the array itself: the cache owns its memory, so a caller
    // could otherwise switch it back to writeable and change what later reads return.
    return py::array::ensure(value.attr("view")());
  }

  std::string prefix() const override { return MainFile(*Get()); }
  int64_t num_shards() const override { return static_cast<int64_t>(Get()->files().size()); }

 private:
  // The file whose meta record lists the tensor.
  static std::string FileOf(const V1Reader& reader, const V1Tensor& t) {
    return reader.files()[t.parts.empty() ? 0 : t.parts[0].file];
  }

  std::unordered_map<std::string, py::object> cache_;
};

// The base class `Reader`: the methods of both reader bindings, defined once.
void DefineReaderBase(py::module_& m) {
  py::class_<PyReaderBase>(m, "Reader")
      .def("close", &PyReaderBase::Close)
      .def_property_readonly("closed", &PyReaderBase::closed)
      .def_property_readonly("prefix", &PyReaderBase::prefix)
      .def_property_readonly("num_shards", &PyReaderBase::num_shards)
      .def("names", &PyReaderBase::Names)
      .def("summary", &PyReaderBase::Summary)
      .def("shape_map", &PyReaderBase::ShapeMap)
      .def("dtype_map", &PyReaderBase::DtypeMap)
      .def("dtype_name_map", &PyReaderBase::DtypeNameMap)
      .def("nbytes_map", &PyReaderBase::NbytesMap)
      .def("ls", &PyReaderBase::Ls, py::arg("names") = py::none(), py::arg("by_size") = false,
           py::arg("as_json") = false)
      .def("partitioned_names", &PyReaderBase::PartitionedNames)
      .def("info", &PyReaderBase::Info)
      .def("tensor", &PyReaderBase::Tensor, py::arg("name"), py::arg("copy") = false,
           py::arg("verify") = false)
      .def("debug_string", &PyReaderBase::DebugString)
      .def("verify", &PyReaderBase::Verify, py::arg("name") = py::none())
      .def("detach_views", &PyReaderBase::DetachViews);
}

class PyBundleWriter {
 public:
  PyBundleWriter(const std::string& prefix, uint64_t max_shard_bytes, bool sync)
      : writer_(prefix, BundleWriter::Options{max_shard_bytes, sync}) {}

  // A C-contiguous array of a fixed-size dtype; its bytes are checksummed and written with the
  // GIL released.
  void AddArray(py::handle name, int64_t dtype, const py::array& array) {
    if (!(array.flags() & py::array::c_style)) throw py::value_error("array must be C-contiguous");
    const std::string key = EncodeKey(name);
    std::vector<int64_t> dims(array.shape(), array.shape() + array.ndim());
    const auto* data = static_cast<const uint8_t*>(array.data());
    const uint64_t size = static_cast<uint64_t>(array.nbytes());
    Status s;
    {
      GilReleased released;
      s = writer_.AddFixed(key, dtype, dims, data, size);
    }
    Check(s);
  }

  void AddStrings(py::handle name, const std::vector<int64_t>& dims, const py::list& elements) {
    const std::string key = EncodeKey(name);
    std::vector<std::string_view> views;
    views.reserve(elements.size());
    for (py::handle e : elements) {
      if (!PyBytes_Check(e.ptr())) throw py::type_error("string tensor elements must be bytes");
      views.emplace_back(PyBytes_AS_STRING(e.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(e.ptr())));
    }
    Status s;
    {
      GilReleased released;  // `elements` keeps the bytes alive
      s = writer_.AddStrings(key, dims, views);
    }
    Check(s);
  }

  void AddCopy(py::handle name, int64_t dtype, const std::vector<int64_t>& dims,
               const std::string& src_path, uint64_t offset, uint64_t size, uint32_t masked_crc) {
    const std::string key = EncodeKey(name);
    Status s;
    {
      GilReleased released;
      s = writer_.AddCopy(key, dtype, dims, src_path, offset, size, masked_crc);
    }
    Check(s);
  }

  void Finish() {
    Status s;
    {
      GilReleased released;
      s = writer_.Finish();
    }
    Check(s.WithFile(writer_.prefix() + ".index"));
  }

  void Abort() { writer_.Abort(); }

 private:
  BundleWriter writer_;
};

py::bytes EncodeSliceKey(py::handle name, const std::vector<std::pair<int64_t, int64_t>>& extents) {
  TensorSlice slice;
  for (const auto& e : extents) slice.push_back(Extent{e.first, e.second});
  return py::bytes(EncodeTensorNameSlice(EncodeKey(name), slice));
}

py::object DecodeSliceKey(const py::bytes& key) {
  std::string name;
  TensorSlice slice;
  if (!DecodeTensorNameSlice(std::string(key), &name, &slice)) return py::none();
  py::list extents;
  for (const Extent& e : slice) extents.append(py::make_tuple(e.start, e.length));
  return py::make_tuple(DecodeKey(name), extents);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "ckptio's C++ core: TensorFlow checkpoint parsing without TensorFlow.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      RaiseStatus(e.status);
    }
  });

  m.def("set_numpy_dtypes", [](const py::dict& table) {
    for (auto item : table) {
      const int64_t code = item.first.cast<int64_t>();
      if (code < 0 || code >= int64_t(g_numpy_dtypes.size())) continue;
      py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(item.second));
      Py_XDECREF(g_numpy_dtypes[code]);
      g_numpy_dtypes[code] = dt.release().ptr();  // held for the life of the process
    }
  });

  DefineReaderBase(m);
  py::class_<PyBundleReader, PyReaderBase>(m, "BundleReader")
      .def(py::init<const std::string&, py::object>(), py::arg("prefix"),
           py::arg("opener") = py::none())
      .def("prefetch", &PyBundleReader::Prefetch, py::arg("names"));
  py::class_<PyBundleWriter>(m, "BundleWriter")
      .def(py::init<const std::string&, uint64_t, bool>(), py::arg("prefix"),
           py::arg("max_shard_bytes") = 0, py::arg("sync") = false)
      .def("add_array", &PyBundleWriter::AddArray)
      .def("add_strings", &PyBundleWriter::AddStrings)
      .def("add_copy", &PyBundleWriter::AddCopy)
      .def("finish", &PyBundleWriter::Finish)
      .def("abort", &PyBundleWriter::Abort);

  py::class_<PyV1Reader, PyReaderBase>(m, "V1Reader")
      .def(py::init<const std::vector<std::string>&, py::object>(), py::arg("files"),
           py::arg("opener") = py::none());

  m.def("crc32c", [](const py::bytes& data, bool portable, uint32_t crc) {
    std::string_view v = data;
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return portable ? crc32c::ExtendPortable(crc, p, v.size()) : crc32c::Extend(crc, p, v.size());
  }, py::arg("data"), py::arg("portable") = false, py::arg("crc") = 0u);
  // The fused copy and CRC, at any alignment of source and destination (for the tests).
  m.def("crc32c_copy", [](const py::bytes& data, size_t src_offset, size_t dst_offset) {
    std::string_view v = data;
    if (src_offset > v.size()) throw py::value_error("src_offset past the end of data");
    const size_t n = v.size() - src_offset;
    std::string out(dst_offset + n, '\0');
    const uint32_t crc = crc32c::CopyExtend(
        0, reinterpret_cast<const uint8_t*>(v.data()) + src_offset,
        reinterpret_cast<uint8_t*>(out.data()) + dst_offset, n);
    return py::make_tuple(crc, py::bytes(out.data() + dst_offset, n));
  }, py::arg("data"), py::arg("src_offset") = 0, py::arg("dst_offset") = 0);
  m.def("crc32c_hardware", &crc32c::IsHardwareAccelerated);
  m.def("crc32c_combine", &crc32c::Combine, py::arg("crc_a"), py::arg("crc_b"), py::arg("len_b"));
  m.def("snappy_uncompress", [](const py::bytes& data) {
    std::string_view v = data;
    std::string out;
    Check(snappy::Uncompress(reinterpret_cast<const uint8_t*>(v.data()), v.size(), &out));
    return py::bytes(out);
  });
  // The index of a bundle whose data files were written elsewhere (ckptio.distributed): entries
  // are (name, dtype enum, dims, shard, offset, size, masked crc32c).
  m.def(
      "bundle_index",
      [](int64_t num_shards, const py::list& entries) {
        std::map<std::string, std::string> serialized;
        for (py::handle item : entries) {
          const py::tuple t = item.cast<py::tuple>();
          BundleEntry e;
          e.dtype = t[1].cast<int64_t>();
          e.shape.dims = t[2].cast<std::vector<int64_t>>();
          e.shard_id = t[3].cast<int64_t>();
          e.offset = t[4].cast<uint64_t>();
          e.size = t[5].cast<uint64_t>();
          e.crc32c = t[6].cast<uint32_t>();
          const std::string key = EncodeKey(t[0]);
          if (!serialized.emplace(key, SerializeBundleEntry(e)).second) {
            Check(Status::InvalidArgument("two tensors would be written under one name").WithKey(key));
          }
        }
        std::string out;
        Check(BuildBundleIndex(num_shards, serialized, &out));
        return py::bytes(out);
      },
      py::arg("num_shards"), py::arg("entries"));
  m.def("encode_slice_key", &EncodeSliceKey);
  m.def("ls_json_tensors", &LsJsonTensors, py::arg("rows"));
  m.def("natural_order", &NaturalOrderOf, py::arg("names"), py::arg("sizes") = py::none());
  m.def("decode_slice_key", &DecodeSliceKey);
}
