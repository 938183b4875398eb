// ckptio._core: thin pybind11 bindings over the format core. Status values become Python
// exceptions in exactly one place (RaiseStatus); arrays are zero-copy views whose base keeps
// the mapped shard alive.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bundle_reader.h"
#include "bundle_writer.h"
#include "crc32c.h"
#include "ordered_code.h"
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

py::str DecodeKey(std::string_view key) {
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

py::dtype NumpyDtype(int64_t code, const DataTypeInfo& type, const std::string& key) {
  EnsureNumpyDtypes();
  if (code < 0 || code >= int64_t(g_numpy_dtypes.size()) || g_numpy_dtypes[code] == nullptr) {
    Check(Status::NotSupported(std::string("no numpy dtype for ") + type.name +
                               " (install ml_dtypes for bfloat16/float8/int4)")
              .WithKey(key));
  }
  return py::reinterpret_borrow<py::dtype>(g_numpy_dtypes[code]);
}

std::vector<py::ssize_t> Shape(const std::vector<int64_t>& dims) { return {dims.begin(), dims.end()}; }

// numpy cannot hold every shape a checkpoint can: TF allows 254 dimensions (numpy 64, or 32
// before numpy 2), and the other dimensions of an empty tensor may multiply past what numpy can
// address. Such tensors are listed, but reading one is NotSupported naming its file and key
// (numpy's ValueError would name neither).
template <typename Make>
py::array NumpyArray(const std::string& file, const std::string& key, Make make) {
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

// An object array of bytes, read-only like every array ckptio returns.
template <typename Strings>
py::array BytesArray(const Strings& elements, const std::vector<int64_t>& dims) {
  py::array out(py::dtype("O"), Shape(dims));
  auto** slots = static_cast<PyObject**>(out.mutable_data());
  for (size_t i = 0; i < elements.size(); ++i) {
    PyObject* b = PyBytes_FromStringAndSize(elements[i].data(),
                                            static_cast<Py_ssize_t>(elements[i].size()));
    if (b == nullptr) throw py::error_already_set();
    Py_XDECREF(slots[i]);
    slots[i] = b;
  }
  MakeReadOnly(out);
  return out;
}

py::tuple ShapeTuple(const std::vector<int64_t>& dims) {
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
    py::gil_scoped_acquire gil;
    impl_ = py::object();
  }
  const std::string& path() const override { return path_; }
  uint64_t size() const override { return size_; }

  Status Read(uint64_t offset, uint64_t n, ByteRange* out) const override {
    py::gil_scoped_acquire gil;
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
        std::memcpy(own->data(), PyBytes_AS_STRING(data.ptr()), n);
        out->data = own->data();
        out->owner = std::move(own);
        return Status::OK();
      }
      out->data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(data.ptr()));
      PyObject* held = data.release().ptr();
      out->owner = std::shared_ptr<const void>(held, [](const void* p) {
        py::gil_scoped_acquire gil;
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
    py::gil_scoped_acquire gil;
    delete o;
  });
  shared.reset();
  return [guarded](const std::string& path, std::shared_ptr<const DataSource>* out) -> Status {
    py::gil_scoped_acquire gil;
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

class PyBundleReader {
 public:
  PyBundleReader(const std::string& prefix, py::object opener) {
    std::unique_ptr<BundleReader> reader;
    Status s;
    SourceOpener open = opener.is_none() ? SourceOpener(OpenMappedSource) : PythonOpener(opener);
    {
      py::gil_scoped_release release;
      s = BundleReader::Open(prefix, &reader, std::move(open));
    }
    Check(s);
    reader_ = std::move(reader);
  }

  void Close() { reader_.reset(); }
  bool closed() const { return reader_ == nullptr; }

  py::list Names() const {
    auto reader = Get();
    py::list names;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed) names.append(DecodeKey(r.key));
    }
    return names;
  }

  py::list PartitionedNames() const {
    auto reader = Get();
    py::list names;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed && r.partitioned()) names.append(DecodeKey(r.key));
    }
    return names;
  }

  // (name, dtype name, shape, stored bytes) of every listed key, in key order: what
  // `ckptio ls` prints, built in one pass.
  py::list Summary() const {
    auto reader = Get();
    py::list out;
    DtypeNames names;
    for (const TensorRecord& r : reader->records()) {
      if (!r.listed) continue;
      uint64_t nbytes = r.entry.size;
      for (const TensorRecord* part : r.slice_records) nbytes += part->entry.size;
      out.append(py::make_tuple(DecodeKey(r.key), names.Get(r.entry.dtype, r.type.name),
                                ShapeTuple(r.entry.shape.dims), nbytes));
    }
    return out;
  }

  // {name: shape} in one pass: the listing people ask for first, kept cheap.
  py::dict ShapeMap() const {
    auto reader = Get();
    py::dict out;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed) DictSet(out, DecodeKey(r.key), ShapeTuple(r.entry.shape.dims));
    }
    return out;
  }

  // {name: numpy dtype | "string" | TF name}, as cheap as the shape map: one dtype object per
  // distinct dtype, shared by every key.
  py::dict DtypeMap() const {
    auto reader = Get();
    DtypeObjects dtypes;
    py::dict out;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed) DictSet(out, DecodeKey(r.key), dtypes.Get(r.entry.dtype, r.type.name));
    }
    return out;
  }

  // {name: TF dtype name}.
  py::dict DtypeNameMap() const {
    auto reader = Get();
    DtypeNames names;
    py::dict out;
    for (const TensorRecord& r : reader->records()) {
      if (r.listed) DictSet(out, DecodeKey(r.key), names.Get(r.entry.dtype, r.type.name));
    }
    return out;
  }

  // {name: stored bytes (all slices, for a partitioned tensor)}.
  py::dict NbytesMap() const {
    auto reader = Get();
    py::dict out;
    for (const TensorRecord& r : reader->records()) {
      if (!r.listed) continue;
      uint64_t nbytes = r.entry.size;
      for (const TensorRecord* part : r.slice_records) nbytes += part->entry.size;
      DictSet(out, DecodeKey(r.key), py::int_(nbytes));
    }
    return out;
  }

  // Everything known about one key, as a dict for the Python TensorInfo.
  py::dict Info(py::handle name) const {
    auto reader = Get();
    const TensorRecord& r = Lookup(*reader, name);
    py::dict d;
    d["name"] = DecodeKey(r.key);
    d["dtype_enum"] = r.entry.dtype;
    d["dtype_name"] = r.type.name;
    d["shape"] = ShapeTuple(r.entry.shape.dims);
    d["size"] = r.entry.size;
    d["num_elements"] = r.num_elements;
    d["shard"] = r.partitioned() ? py::object(py::none()) : py::object(py::int_(r.entry.shard_id));
    d["offset"] = r.partitioned() ? py::object(py::none()) : py::object(py::int_(r.entry.offset));
    d["masked_crc32c"] = r.entry.crc32c;
    d["data_path"] = r.partitioned() ? py::object(py::none()) : py::object(py::str(reader->ShardPath(r.entry.shard_id)));
    py::list slices;
    for (size_t i = 0; i < r.entry.slices.size(); ++i) {
      SliceGeometry g = ResolveSlice(r.entry.slices[i], r.entry.shape.dims);
      slices.append(py::make_tuple(ShapeTuple(g.starts), ShapeTuple(g.lengths),
                                   py::bytes(r.slice_records[i]->key)));
    }
    d["slices"] = slices;
    d["slices_cover_tensor"] = r.slices_cover_tensor;
    d["sliced"] = r.partitioned();
    return d;
  }

  // The tensor stored under `name` (an unpartitioned key): a read-only view of the mapped
  // shard, or with copy=True a fresh array (copied with the GIL released, CRC checked in the
  // same pass when verify=True). Strings come back as an object array of bytes.
  py::array Tensor(py::handle name, bool copy, bool verify) const {
    auto reader = Get();
    const TensorRecord& r = Lookup(*reader, name);
    if (r.type.storage == Storage::kString) return Strings(*reader, r, verify);
    if (r.partitioned()) {
      Check(Status::InvalidArgument("partitioned tensor: read it through its slices")
                .WithKey(r.key));
    }
    ByteRange bytes;
    Check(reader->Data(r, &bytes));  // first: its errors name the files (unreadable dtypes too)
    py::dtype dtype = NumpyDtype(r.entry.dtype, r.type, r.key);
    if (copy || r.entry.size == 0) {
      py::array out = NumpyArray(reader->index_path(), r.key,
                                 [&] { return py::array(dtype, Shape(r.entry.shape.dims)); });
      auto* dst = static_cast<uint8_t*>(out.mutable_data());
      Status s;
      {
        py::gil_scoped_release release;
        s = reader->CopyTo(r, bytes.data, dst, verify);
      }
      Check(s);
      if (!copy) MakeReadOnly(out);
      return out;
    }
    if (verify) {
      Status s;
      {
        py::gil_scoped_release release;
        s = reader->VerifyData(r, bytes.data);  // the bytes in hand: no second fetch
      }
      Check(s);
    }
    // The view's base owns a reference to the bytes' storage (the mapping or a fetched buffer).
    auto* keep = new std::shared_ptr<const void>(std::move(bytes.owner));
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
    py::array view = NumpyArray(reader->index_path(), r.key, [&] {
      return py::array(dtype, Shape(r.entry.shape.dims), std::vector<py::ssize_t>{}, bytes.data,
                       base);
    });
    MakeReadOnly(view);
    return view;
  }

  // Check one key's checksum, or every key's when name is None. GIL released.
  void Verify(py::handle name) const {
    auto reader = Get();
    Status s;
    if (name.is_none()) {
      py::gil_scoped_release release;
      for (const TensorRecord& r : reader->records()) {
        if (r.partitioned()) continue;  // its slices are records of their own
        s = reader->Verify(r);
        if (!s.ok()) break;
      }
    } else {
      const TensorRecord& r = Lookup(*reader, name);
      py::gil_scoped_release release;
      s = reader->Verify(r);
    }
    Check(s);
  }

  // TF's CheckpointReader.debug_string(): "<key> (<DT_NAME>) <shape>" per key in key order,
  // partitioned full entries skipped and their raw slice keys listed instead.
  py::bytes DebugString() const {
    auto reader = Get();
    std::string out;
    for (const TensorRecord& r : reader->records()) {
      if (r.partitioned()) continue;
      out += r.key + " (" + r.type.enum_name + ") [";
      const auto& dims = r.entry.shape.dims;
      for (size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
      out += "]\n";
    }
    return py::bytes(out);
  }

  std::string prefix() const { return Get()->prefix(); }
  int64_t num_shards() const { return Get()->num_shards(); }
  // Later views get mappings of their own; views handed out so far keep theirs.
  void DetachViews() const { Get()->ForgetShards(); }

 private:
  std::shared_ptr<const BundleReader> Get() const {
    if (!reader_) Check(Status::InvalidArgument("checkpoint is closed"));
    return reader_;
  }

  static const TensorRecord& Lookup(const BundleReader& reader, py::handle name) {
    const std::string key = EncodeKey(name);
    const TensorRecord* r = reader.Find(key);
    if (r == nullptr) {
      Check(Status::NotFound("key not found in checkpoint").WithFile(reader.index_path()).WithKey(key));
    }
    return *r;
  }

  py::array Strings(const BundleReader& reader, const TensorRecord& r, bool verify) const {
    if (r.partitioned()) {
      Check(Status::InvalidArgument("partitioned tensor: read it through its slices").WithKey(r.key));
    }
    ByteRange bytes;
    Check(reader.Data(r, &bytes));
    if (verify) Check(reader.VerifyData(r, bytes.data));
    std::vector<std::string_view> elements;
    Check(reader.DecodeStrings(r, bytes.data, &elements));
    return NumpyArray(reader.index_path(), r.key,
                      [&] { return BytesArray(elements, r.entry.shape.dims); });
  }

  std::shared_ptr<const BundleReader> reader_;
};


// V1 files hold values as TensorProtos: each tensor is decoded once (GIL released) into an
// array that is cached and handed out read-only, so repeated reads are free like V2 views.
class PyV1Reader {
 public:
  PyV1Reader(const std::vector<std::string>& files, py::object opener) {
    std::unique_ptr<V1Reader> reader;
    Status s;
    SourceOpener open = opener.is_none() ? SourceOpener(OpenMappedSource) : PythonOpener(opener);
    {
      py::gil_scoped_release release;
      s = V1Reader::Open(files, &reader, std::move(open));
    }
    Check(s);
    reader_ = std::move(reader);
  }

  void Close() {
    reader_.reset();
    cache_.clear();
  }

  // Later reads get memory of their own (fresh mappings, no cached decodes); arrays handed out
  // so far keep theirs.
  void DetachViews() {
    Get()->ForgetViews();
    cache_.clear();
  }
  bool closed() const { return reader_ == nullptr; }

  py::list Names() const {
    auto reader = Get();
    py::list names;
    for (const V1Tensor& t : reader->tensors()) names.append(DecodeKey(t.name));
    return names;
  }

  py::list Summary() const {
    auto reader = Get();
    py::list out;
    for (const V1Tensor& t : reader->tensors()) {
      out.append(py::make_tuple(DecodeKey(t.name), t.type.name, ShapeTuple(t.shape.dims),
                                t.num_elements * uint64_t(t.type.elem_size)));
    }
    return out;
  }

  py::list PartitionedNames() const { return py::list(); }  // assembled in the core

  py::dict ShapeMap() const {
    auto reader = Get();
    py::dict out;
    for (const V1Tensor& t : reader->tensors()) DictSet(out, DecodeKey(t.name), ShapeTuple(t.shape.dims));
    return out;
  }

  py::dict DtypeMap() const {
    auto reader = Get();
    DtypeObjects dtypes;
    py::dict out;
    for (const V1Tensor& t : reader->tensors()) DictSet(out, DecodeKey(t.name), dtypes.Get(t.dtype, t.type.name));
    return out;
  }

  py::dict DtypeNameMap() const {
    auto reader = Get();
    DtypeNames names;
    py::dict out;
    for (const V1Tensor& t : reader->tensors()) DictSet(out, DecodeKey(t.name), names.Get(t.dtype, t.type.name));
    return out;
  }

  py::dict NbytesMap() const {
    auto reader = Get();
    py::dict out;
    for (const V1Tensor& t : reader->tensors()) {
      DictSet(out, DecodeKey(t.name), py::int_(t.num_elements * uint64_t(t.type.elem_size)));
    }
    return out;
  }

  py::dict Info(py::handle name) const {
    auto reader = Get();
    const V1Tensor& t = Lookup(*reader, name);
    py::dict d;
    d["name"] = DecodeKey(t.name);
    d["dtype_enum"] = t.dtype;
    d["dtype_name"] = t.type.name;
    d["shape"] = ShapeTuple(t.shape.dims);
    d["size"] = t.num_elements * uint64_t(t.type.elem_size);
    d["num_elements"] = t.num_elements;
    d["shard"] = t.parts.empty() ? py::object(py::none()) : py::object(py::int_(t.parts[0].file));
    d["offset"] = py::none();
    d["slices"] = py::list();
    d["slices_cover_tensor"] = t.parts_cover_tensor;
    d["sliced"] = t.parts.size() > 1;
    return d;
  }

  py::array Tensor(py::handle name, bool copy, bool verify) {
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
        py::gil_scoped_release release;
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
      if (viewable) {
        // The packed values in the file are the array itself: a zero-copy view, as for V2.
        auto* keep = new std::shared_ptr<const void>(std::move(raw.owner));
        py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
        py::array view = NumpyArray(FileOf(*reader, t), t.name, [&] {
          return py::array(dtype, Shape(t.shape.dims), std::vector<py::ssize_t>{}, raw.data, base);
        });
        MakeReadOnly(view);
        return view;
      }
      py::array out = NumpyArray(FileOf(*reader, t), t.name,
                                 [&] { return py::array(dtype, Shape(t.shape.dims)); });
      auto* dst = static_cast<uint8_t*>(out.mutable_data());
      Status s;
      {
        py::gil_scoped_release release;
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

  void Verify(py::handle name) const {
    auto reader = Get();
    Status s;
    if (name.is_none()) {
      py::gil_scoped_release release;
      s = reader->VerifyAll();
    } else {
      const V1Tensor& t = Lookup(*reader, name);
      py::gil_scoped_release release;
      s = reader->Verify(t);
    }
    Check(s);
  }

  // TF's V1 debug_string lists each tensor with its dtype, shape and, when partitioned, its
  // slice count (TF's own line order is an unordered_map's; ours is sorted).
  py::bytes DebugString() const {
    auto reader = Get();
    std::string out;
    for (const V1Tensor& t : reader->tensors()) {
      out += t.name + " (" + t.type.enum_name + ") [";
      for (size_t i = 0; i < t.shape.dims.size(); ++i) {
        out += (i ? "," : "") + std::to_string(t.shape.dims[i]);
      }
      out += "]";
      if (t.parts.size() > 1) out += ", " + std::to_string(t.parts.size()) + " slices";
      out += "\n";
    }
    return py::bytes(out);
  }

  std::string prefix() const { return Get()->files().empty() ? "" : Get()->files()[0]; }
  int64_t num_shards() const { return static_cast<int64_t>(Get()->files().size()); }

 private:
  std::shared_ptr<const V1Reader> Get() const {
    if (!reader_) Check(Status::InvalidArgument("checkpoint is closed"));
    return reader_;
  }

  // The file whose meta record lists the tensor.
  static std::string FileOf(const V1Reader& reader, const V1Tensor& t) {
    return reader.files()[t.parts.empty() ? 0 : t.parts[0].file];
  }

  static const V1Tensor& Lookup(const V1Reader& reader, py::handle name) {
    const std::string key = EncodeKey(name);
    const V1Tensor* t = reader.Find(key);
    if (t == nullptr) {
      Check(Status::NotFound("key not found in checkpoint")
                .WithFile(reader.files().empty() ? "" : reader.files()[0])
                .WithKey(key));
    }
    return *t;
  }

  std::shared_ptr<const V1Reader> reader_;
  std::unordered_map<std::string, py::object> cache_;
};

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
      py::gil_scoped_release release;
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
      py::gil_scoped_release release;  // `elements` keeps the bytes alive
      s = writer_.AddStrings(key, dims, views);
    }
    Check(s);
  }

  void AddCopy(py::handle name, int64_t dtype, const std::vector<int64_t>& dims,
               const std::string& src_path, uint64_t offset, uint64_t size, uint32_t masked_crc) {
    const std::string key = EncodeKey(name);
    Status s;
    {
      py::gil_scoped_release release;
      s = writer_.AddCopy(key, dtype, dims, src_path, offset, size, masked_crc);
    }
    Check(s);
  }

  void Finish() {
    Status s;
    {
      py::gil_scoped_release release;
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

  py::class_<PyBundleReader>(m, "BundleReader")
      .def(py::init<const std::string&, py::object>(), py::arg("prefix"),
           py::arg("opener") = py::none())
      .def("close", &PyBundleReader::Close)
      .def_property_readonly("closed", &PyBundleReader::closed)
      .def_property_readonly("prefix", &PyBundleReader::prefix)
      .def_property_readonly("num_shards", &PyBundleReader::num_shards)
      .def("names", &PyBundleReader::Names)
      .def("summary", &PyBundleReader::Summary)
      .def("shape_map", &PyBundleReader::ShapeMap)
      .def("dtype_map", &PyBundleReader::DtypeMap)
      .def("dtype_name_map", &PyBundleReader::DtypeNameMap)
      .def("nbytes_map", &PyBundleReader::NbytesMap)
      .def("partitioned_names", &PyBundleReader::PartitionedNames)
      .def("info", &PyBundleReader::Info)
      .def("tensor", &PyBundleReader::Tensor, py::arg("name"), py::arg("copy") = false,
           py::arg("verify") = false)
      .def("debug_string", &PyBundleReader::DebugString)
      .def("verify", &PyBundleReader::Verify, py::arg("name") = py::none())
      .def("detach_views", &PyBundleReader::DetachViews);

  py::class_<PyBundleWriter>(m, "BundleWriter")
      .def(py::init<const std::string&, uint64_t, bool>(), py::arg("prefix"),
           py::arg("max_shard_bytes") = 0, py::arg("sync") = false)
      .def("add_array", &PyBundleWriter::AddArray)
      .def("add_strings", &PyBundleWriter::AddStrings)
      .def("add_copy", &PyBundleWriter::AddCopy)
      .def("finish", &PyBundleWriter::Finish)
      .def("abort", &PyBundleWriter::Abort);

  py::class_<PyV1Reader>(m, "V1Reader")
      .def(py::init<const std::vector<std::string>&, py::object>(), py::arg("files"),
           py::arg("opener") = py::none())
      .def("close", &PyV1Reader::Close)
      .def_property_readonly("closed", &PyV1Reader::closed)
      .def_property_readonly("prefix", &PyV1Reader::prefix)
      .def_property_readonly("num_shards", &PyV1Reader::num_shards)
      .def("names", &PyV1Reader::Names)
      .def("summary", &PyV1Reader::Summary)
      .def("partitioned_names", &PyV1Reader::PartitionedNames)
      .def("shape_map", &PyV1Reader::ShapeMap)
      .def("dtype_map", &PyV1Reader::DtypeMap)
      .def("dtype_name_map", &PyV1Reader::DtypeNameMap)
      .def("nbytes_map", &PyV1Reader::NbytesMap)
      .def("info", &PyV1Reader::Info)
      .def("tensor", &PyV1Reader::Tensor, py::arg("name"), py::arg("copy") = false,
           py::arg("verify") = false)
      .def("debug_string", &PyV1Reader::DebugString)
      .def("verify", &PyV1Reader::Verify, py::arg("name") = py::none())
      .def("detach_views", &PyV1Reader::DetachViews);

  m.def("crc32c", [](const py::bytes& data, bool portable, uint32_t crc) {
    std::string_view v = data;
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return portable ? crc32c::ExtendPortable(crc, p, v.size()) : crc32c::Extend(crc, p, v.size());
  }, py::arg("data"), py::arg("portable") = false, py::arg("crc") = 0u);
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
  m.def("decode_slice_key", &DecodeSliceKey);
}
