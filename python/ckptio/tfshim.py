"""A `tensorflow` stand-in for scripts that only read checkpoints, backed by ckptio.

    python -m ckptio.tfshim convert_bert.py --tf_checkpoint model.ckpt ...   # like `python ...`

    import ckptio.tfshim
    with ckptio.tfshim.installed() as tf:  # or install() ... uninstall(); the scripts it runs
        tf.train.list_variables("model.ckpt")  # get the same module from their own import

What the stand-in provides (everything else raises an AttributeError saying so):

* ``tf.train`` and ``tf.compat.v1.train``: ``list_variables``, ``load_variable``,
  ``load_checkpoint``, ``latest_checkpoint``, ``NewCheckpointReader``, ``checkpoints_iterator``;
* ``tf.errors``: ``OpError`` and its subclasses. While the stand-in is installed, ckptio's own
  errors are instances of them (`CheckpointError` of ``OpError``, `NotFoundError` of
  ``NotFoundError``, `CorruptionError` of ``DataLossError``, `UnsupportedError` of
  ``UnimplementedError``), so ``except tf.errors.NotFoundError`` works as with TF;
* dtype constants (``tf.float32``, ``tf.bfloat16``, ... with ``.name``, ``.as_numpy_dtype``),
  ``tf.as_dtype``, ``tf.dtypes.cast``, ``tf.cast``, ``tf.constant``, ``tf.convert_to_tensor``
  (eager tensors with ``.numpy()``, ``.shape``, ``.dtype``);
* ``tf.io.gfile``: ``exists``, ``glob``, ``isdir``, ``listdir``, ``makedirs``, ``GFile`` on
  local paths.

Values are TF's: ``list_variables`` gives sorted ``(name, [dims])`` tuples, ``load_variable``
a fresh writable array (a numpy scalar for rank 0). The module has a real ``ModuleSpec`` (so
``importlib.util.find_spec("tensorflow")`` works) and no distribution metadata, so libraries
that look for an installed TensorFlow (``importlib.metadata``) still see none. It refuses to
install over a real TensorFlow that is imported or importable unless ``force=True``.
"""

from __future__ import annotations

import builtins
import contextlib
import glob as _glob
import importlib.machinery
import importlib.util
import os
import sys
import time
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from . import compat, errors
from .paths import latest_checkpoint as _latest_checkpoint

__all__ = ["NAME", "StandInError", "install", "installed", "is_installed", "main", "uninstall"]

NAME = "tensorflow"


class StandInError(RuntimeError):
    """The stand-in cannot be installed (a real TensorFlow is present) or removed."""


# --------------------------------------------------------------------------- dtypes


class DType(compat.DType):
    """`tf.DType`: ``tf.float32.name == "float32"``, ``.as_numpy_dtype is np.float32``."""

    __slots__ = ()

    @property
    def is_floating(self) -> bool:
        return self.name in ("float16", "bfloat16", "float32", "float64")

    @property
    def is_integer(self) -> bool:
        return self.name.startswith(("int", "uint"))

    @property
    def is_complex(self) -> bool:
        return self.name.startswith("complex")

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        if other is None:  # np.dtype(None) would be float64
            return False
        try:
            return as_dtype(other).name == self.name
        except TypeError:
            return False

    __hash__ = compat.DType.__hash__


def _dtype_table() -> dict[str, DType]:
    import ml_dtypes

    numpy_types = {
        "float16": np.float16,
        "bfloat16": ml_dtypes.bfloat16,
        "float32": np.float32,
        "float64": np.float64,
        "int8": np.int8,
        "int16": np.int16,
        "int32": np.int32,
        "int64": np.int64,
        "uint8": np.uint8,
        "uint16": np.uint16,
        "uint32": np.uint32,
        "uint64": np.uint64,
        "bool": np.bool_,
        "complex64": np.complex64,
        "complex128": np.complex128,
        "string": object,
    }
    return {name: DType(name, numpy_type) for name, numpy_type in numpy_types.items()}


_DTYPES = _dtype_table()
_ALIASES = {"half": "float16", "float": "float32", "double": "float64"}


def as_dtype(value: Any) -> DType:
    """`tf.as_dtype`: a DType from a DType, a name, a numpy dtype or numpy type."""
    if isinstance(value, compat.DType):
        return _DTYPES[value.name]
    if isinstance(value, str) and value in _ALIASES:
        value = _ALIASES[value]
    if isinstance(value, str) and value in _DTYPES:
        return _DTYPES[value]
    if value in (object, str, bytes):
        return _DTYPES["string"]
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"cannot convert {value!r} to a dtype") from None
    if name not in _DTYPES:
        raise TypeError(f"cannot convert {value!r} to a dtype")
    return _DTYPES[name]


# --------------------------------------------------------------------------- tensors


class TensorShape(tuple):
    """`tf.TensorShape` for eager tensors: a tuple of ints, equal to the same list."""

    def as_list(self) -> list[int]:
        return list(self)

    @property
    def rank(self) -> int:
        return len(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"TensorShape({list(self)})"


class EagerTensor:
    """An eager tensor holding a numpy array: ``.numpy()``, ``.shape``, ``.dtype``."""

    __slots__ = ("_value",)

    def __init__(self, value: np.ndarray) -> None:
        self._value = value

    def numpy(self) -> Any:
        """A copy of the value (a numpy scalar for rank 0, like TF)."""
        if self._value.ndim == 0:
            return self._value[()]
        return self._value.copy()

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._value.shape)

    @property
    def dtype(self) -> DType:
        return as_dtype(self._value.dtype)

    @property
    def ndim(self) -> int:
        return self._value.ndim

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._value if dtype is None else self._value.astype(dtype)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        shape, name = self._value.shape, self.dtype.name
        return f"<tf.Tensor: shape={shape}, dtype={name}, numpy={self._value!r}>"


def _to_array(value: Any, dtype: Any = None) -> np.ndarray:
    if isinstance(value, EagerTensor):
        array = value._value
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        array = np.asarray(value)
        # TF's defaults for Python values: float32, int32 when it fits, strings as bytes.
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        elif array.dtype == np.int64 and (
            array.size == 0 or (array.min() >= -(2**31) and array.max() < 2**31)
        ):
            array = array.astype(np.int32)
        elif array.dtype.kind == "U":
            array = np.vectorize(lambda s: s.encode(), otypes=[object])(array)
    if array.dtype.kind == "S":
        array = array.astype(object)
    if dtype is not None:
        array = array.astype(as_dtype(dtype).as_numpy_dtype)
    return array


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str | None = None) -> Any:
    """`tf.constant`: an eager tensor (a copy of `value`)."""
    array = np.array(_to_array(value, dtype), copy=True)
    if shape is not None:  # TF reshapes a value of the right size, else broadcasts a scalar
        shape = tuple(shape)
        if array.size == int(np.prod(shape)):
            array = array.reshape(shape)
        else:
            array = np.broadcast_to(array, shape).copy()
    return EagerTensor(array)


def convert_to_tensor(value: Any, dtype: Any = None, dtype_hint: Any = None, name: Any = None):
    """`tf.convert_to_tensor`: tensors pass through; other values become eager tensors."""
    if isinstance(value, EagerTensor) and dtype is None:
        return value
    if dtype is None and dtype_hint is not None and not isinstance(value, np.ndarray):
        with contextlib.suppress(TypeError, ValueError):
            return EagerTensor(np.array(_to_array(value, dtype_hint)))
    return EagerTensor(np.array(_to_array(value, dtype)))


def cast(x: Any, dtype: Any, name: str | None = None) -> Any:
    """`tf.cast` / `tf.dtypes.cast`: an eager tensor of `x` converted to `dtype`."""
    array = _to_array(x)
    target = as_dtype(dtype).as_numpy_dtype
    return EagerTensor(array.astype(target))


# --------------------------------------------------------------------------- tf.train


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """`tf.train.latest_checkpoint`."""
    return _latest_checkpoint(os.fspath(checkpoint_dir), latest_filename or "checkpoint")


def checkpoints_iterator(
    checkpoint_dir: str,
    min_interval_secs: float = 0,
    timeout: float | None = None,
    timeout_fn: Any = None,
) -> Iterator[str]:
    """`tf.train.checkpoints_iterator`: yields each new checkpoint as it appears."""
    last = None
    while True:
        deadline = None if timeout is None else time.time() + timeout
        while True:
            path = latest_checkpoint(checkpoint_dir)
            if path is not None and path != last:
                break
            if deadline is not None and time.time() + 1 > deadline:
                path = None
                break
            time.sleep(1)
        if path is None:
            if timeout_fn is None or timeout_fn():
                return
            continue
        started = time.time()
        last = path
        yield path
        wait = started + min_interval_secs - time.time()
        if wait > 0:
            time.sleep(wait)


# --------------------------------------------------------------------------- tf.errors

_CODES = {
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


class OpError(Exception):
    """`tf.errors.OpError`. ckptio's errors are instances of it while the stand-in is installed
    (they carry ``message``, and ``op``/``node_def`` of None, like TF's eager errors)."""

    # No slots of its own: the same instance layout as Exception, so that it can become a
    # base of ckptio's error classes (see _join_errors). BaseException gives the __dict__.
    __slots__ = ()
    node_def = None
    op = None
    error_code = _CODES["UNKNOWN"]

    def __init__(self, node_def: Any, op: Any, message: str, *args: Any) -> None:
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message

    @property
    def experimental_payloads(self) -> dict:
        return {}


def _error_class(name: str, code: str) -> type[OpError]:
    def __init__(self: OpError, node_def: Any, op: Any, message: str, *args: Any) -> None:
        OpError.__init__(self, node_def, op, message)

    attrs = {
        "__slots__": (),
        "error_code": _CODES[code],
        "__init__": __init__,
        "__module__": __name__,
    }
    return type(name, (OpError,), attrs)


_ERROR_NAMES = {
    "CancelledError": "CANCELLED",
    "UnknownError": "UNKNOWN",
    "InvalidArgumentError": "INVALID_ARGUMENT",
    "DeadlineExceededError": "DEADLINE_EXCEEDED",
    "NotFoundError": "NOT_FOUND",
    "AlreadyExistsError": "ALREADY_EXISTS",
    "PermissionDeniedError": "PERMISSION_DENIED",
    "ResourceExhaustedError": "RESOURCE_EXHAUSTED",
    "FailedPreconditionError": "FAILED_PRECONDITION",
    "AbortedError": "ABORTED",
    "OutOfRangeError": "OUT_OF_RANGE",
    "UnimplementedError": "UNIMPLEMENTED",
    "InternalError": "INTERNAL",
    "UnavailableError": "UNAVAILABLE",
    "DataLossError": "DATA_LOSS",
    "UnauthenticatedError": "UNAUTHENTICATED",
}
ERRORS: dict[str, type[OpError]] = {"OpError": OpError}
ERRORS.update({name: _error_class(name, code) for name, code in _ERROR_NAMES.items()})

# Which TF error class each ckptio error class joins while installed. `except` clauses ignore
# ABC registration (CPython checks the real MRO), so the TF classes are added as bases of
# ckptio's for as long as the stand-in is installed, and the original bases put back after.
_JOINS: list[tuple[type, str]] = [
    (errors.CheckpointError, "OpError"),
    (errors.NotFoundError, "NotFoundError"),
    (errors.CorruptionError, "DataLossError"),
    (errors.UnsupportedError, "UnimplementedError"),
]


def _join_errors() -> dict[type, tuple[type, ...]]:
    saved = {}
    for cls, tf_name in _JOINS:
        saved[cls] = cls.__bases__
        tf_cls = ERRORS[tf_name]
        if cls is errors.CheckpointError:
            cls.__bases__ = tuple(tf_cls if b is Exception else b for b in cls.__bases__)
        else:
            cls.__bases__ = (*cls.__bases__, tf_cls)
    return saved


def _unjoin_errors(saved: dict[type, tuple[type, ...]]) -> None:
    # Subclasses first, so that no intermediate MRO is inconsistent.
    for cls, _ in reversed(_JOINS):
        if cls in saved:
            cls.__bases__ = saved[cls]


# --------------------------------------------------------------------------- tf.io.gfile


def _local(path: Any) -> str:
    path = os.fspath(path)
    if "://" in path:
        raise errors.UnsupportedError(
            "the tensorflow stand-in's gfile reads local paths only; install TensorFlow, or "
            "use ckptio.remote for checkpoints on URLs",
            file=path,
        )
    return path


class GFile:
    """`tf.io.gfile.GFile` for local files (text modes give str, ``b`` modes bytes)."""

    def __init__(self, name: Any, mode: str = "r") -> None:
        self.name = _local(name)
        self.mode = mode
        self._file = builtins.open(self.name, mode)

    def size(self) -> int:
        return os.path.getsize(self.name)

    def __getattr__(self, attr: str) -> Any:  # read, write, readline, seek, tell, flush...
        return getattr(self._file, attr)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._file)

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def close(self) -> None:
        self._file.close()


def _exists(path: Any) -> bool:
    return os.path.exists(_local(path))


def _glob_paths(pattern: Any) -> list[str]:
    return sorted(_glob.glob(_local(pattern)))


def _isdir(path: Any) -> bool:
    return os.path.isdir(_local(path))


def _listdir(path: Any) -> list[str]:
    return os.listdir(_local(path))


def _makedirs(path: Any) -> None:
    os.makedirs(_local(path), exist_ok=True)


# --------------------------------------------------------------------------- the modules


class _StandInModule(types.ModuleType):
    """A module whose missing attributes say what the stand-in provides."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        provided = ", ".join(sorted(n for n in vars(self) if not n.startswith("_")))
        raise AttributeError(
            f"{self.__name__}.{attr} is not provided by ckptio's tensorflow stand-in (it "
            f"provides: {provided}); install TensorFlow for the rest"
        )


def _module(name: str, attrs: dict[str, Any]) -> _StandInModule:
    module = _StandInModule(name, f"ckptio's TensorFlow stand-in ({name}): see ckptio.tfshim")
    module.__spec__ = importlib.machinery.ModuleSpec(
        name, None, origin="ckptio.tfshim", is_package=True
    )
    module.__path__ = []  # a package: missing submodules give ModuleNotFoundError
    module.__file__ = None
    module.__dict__.update(attrs)
    return module


def _build() -> dict[str, _StandInModule]:
    train = {
        "list_variables": compat.list_variables,
        "load_variable": compat.load_variable,
        "load_checkpoint": compat.load_checkpoint,
        "latest_checkpoint": latest_checkpoint,
        "NewCheckpointReader": compat.NewCheckpointReader,
        "checkpoints_iterator": checkpoints_iterator,
    }
    error_attrs: dict[str, Any] = dict(ERRORS)
    error_attrs.update(_CODES)
    error_attrs["OK"] = 0
    dtypes = dict(_DTYPES)
    dtypes.update({alias: _DTYPES[name] for alias, name in _ALIASES.items()})
    dtype_attrs = {**dtypes, "DType": DType, "as_dtype": as_dtype, "cast": cast}
    gfile = {
        "exists": _exists,
        "glob": _glob_paths,
        "isdir": _isdir,
        "listdir": _listdir,
        "makedirs": _makedirs,
        "GFile": GFile,
    }
    modules = {
        "tensorflow.train": _module("tensorflow.train", train),
        "tensorflow.compat.v1.train": _module("tensorflow.compat.v1.train", train),
        "tensorflow.errors": _module("tensorflow.errors", error_attrs),
        "tensorflow.dtypes": _module("tensorflow.dtypes", dtype_attrs),
        "tensorflow.io.gfile": _module("tensorflow.io.gfile", gfile),
    }
    modules["tensorflow.io"] = _module("tensorflow.io", {"gfile": modules["tensorflow.io.gfile"]})
    tensors = {
        "cast": cast,
        "constant": constant,
        "convert_to_tensor": convert_to_tensor,
        "as_dtype": as_dtype,
        "DType": DType,
        "TensorShape": TensorShape,
    }
    v1_attrs = {
        "train": modules["tensorflow.compat.v1.train"],
        "errors": modules["tensorflow.errors"],
        "dtypes": modules["tensorflow.dtypes"],
        "io": modules["tensorflow.io"],
        "gfile": modules["tensorflow.io.gfile"],
        **tensors,
        **dtypes,
    }
    modules["tensorflow.compat.v1"] = _module("tensorflow.compat.v1", v1_attrs)
    modules["tensorflow.compat"] = _module(
        "tensorflow.compat", {"v1": modules["tensorflow.compat.v1"]}
    )
    top = {
        "train": modules["tensorflow.train"],
        "compat": modules["tensorflow.compat"],
        "errors": modules["tensorflow.errors"],
        "dtypes": modules["tensorflow.dtypes"],
        "io": modules["tensorflow.io"],
        **tensors,
        **dtypes,
    }
    modules[NAME] = _module(NAME, top)
    return modules


# --------------------------------------------------------------------------- install


class _State:
    modules: ClassVar[dict[str, _StandInModule] | None] = None
    saved_modules: ClassVar[dict[str, Any]] = {}
    saved_bases: ClassVar[dict[type, tuple[type, ...]]] = {}


def is_installed() -> bool:
    """Whether ``sys.modules["tensorflow"]`` is the stand-in now."""
    return _State.modules is not None and sys.modules.get(NAME) is _State.modules[NAME]


def _real_tensorflow() -> str | None:
    """Why a real TensorFlow is there (imported or importable), or None."""
    module = sys.modules.get(NAME)
    if module is not None:
        return f"a real TensorFlow is already imported ({getattr(module, '__file__', module)})"
    try:
        spec = importlib.util.find_spec(NAME)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        return f"a real TensorFlow is installed ({spec.origin})"
    return None


def install(*, force: bool = False) -> types.ModuleType:
    """Put the stand-in in ``sys.modules["tensorflow"]`` (and its submodules); returns it.

    Refuses (StandInError) when a real TensorFlow is imported or importable, unless `force`:
    then the real modules are set aside and put back by `uninstall`. Installing twice is a
    no-op."""
    if is_installed():
        return sys.modules[NAME]
    reason = _real_tensorflow()
    if reason is not None and not force:
        raise StandInError(f"{reason}: use it, or force the stand-in over it (force=True, --force)")
    modules = _build()
    _State.saved_modules = {
        name: module
        for name, module in sys.modules.items()
        if name == NAME or name.startswith(NAME + ".")
    }
    for name in _State.saved_modules:
        del sys.modules[name]
    sys.modules.update(modules)
    _State.modules = modules
    _State.saved_bases = _join_errors()
    return modules[NAME]


def uninstall() -> None:
    """Remove the stand-in, put back what ``sys.modules`` held before, and make ckptio's errors
    plain ckptio errors again. A no-op when not installed."""
    if _State.modules is None:
        return
    for name in list(sys.modules):
        if name == NAME or name.startswith(NAME + "."):
            del sys.modules[name]
    sys.modules.update(_State.saved_modules)
    _unjoin_errors(_State.saved_bases)
    _State.modules, _State.saved_modules, _State.saved_bases = None, {}, {}


@contextlib.contextmanager
def installed(*, force: bool = False) -> Iterator[types.ModuleType]:
    """`install` for the duration of a ``with`` block."""
    module = install(force=force)
    try:
        yield module
    finally:
        uninstall()


# --------------------------------------------------------------------------- running scripts

_USAGE = """usage: python -m ckptio.tfshim [--force] SCRIPT [ARGS...]
       python -m ckptio.tfshim [--force] -m MODULE [ARGS...]

Runs SCRIPT (or MODULE) as `python SCRIPT ARGS` would, with ckptio's TensorFlow stand-in as
`tensorflow`: scripts that read checkpoints (tf.train.load_variable, list_variables,
NewCheckpointReader...) run without TensorFlow. --force shadows an installed TensorFlow."""


def main(argv: list[str] | None = None) -> None:
    """``python -m ckptio.tfshim [--force] SCRIPT [ARGS...]``: run a script under the stand-in."""
    import runpy

    args = list(sys.argv[1:] if argv is None else argv)
    force = False
    if args and args[0] == "--force":
        force, args = True, args[1:]
    if not args or args[0] in ("-h", "--help") or (args[0] == "-m" and len(args) < 2):
        print(_USAGE, file=sys.stderr if not args else sys.stdout)
        raise SystemExit(0 if args and args[0] in ("-h", "--help") else 2)
    try:
        install(force=force)
    except StandInError as e:
        print(f"ckptio.tfshim: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    if args[0] == "-m":
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return
    script = args[0]
    if not os.path.exists(script):
        print(f"ckptio.tfshim: can't open file {script!r}: no such file", file=sys.stderr)
        raise SystemExit(2)
    sys.argv = args
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python SCRIPT` would
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    # Run the imported module's main, so that `ckptio.tfshim` state is shared with the script.
    from ckptio.tfshim import main as _main

    _main()
