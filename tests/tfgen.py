"""Checkpoint generators that use real TensorFlow (test-only).

Every public generator takes a directory (``pathlib.Path``, created if missing), writes one
checkpoint into it with TensorFlow and returns the prefix string to open (the same string TF's
own ``tf.train.load_checkpoint`` accepts). ``GENERATORS`` maps a short name to each of them.

TensorFlow is imported lazily inside the generators, so this module imports without it.

DType coverage (TF 2.21, checked by saving with ``tf.raw_ops.SaveV2`` and reading back with
``tf.train.load_checkpoint``):

* every fixed-size dtype a bundle can hold is created from a numpy / ml_dtypes array with
  ``tf.constant``: float16/32/64, bfloat16, int8/16/32/64, uint8/16/32/64, bool,
  complex64/128, the quantized qint8/quint8/qint16/quint16/qint32, int4/uint4, int2/uint2,
  float4_e2m1fn and the five float8 types (``tf.cast`` to float8 is not registered in eager
  mode, but ``tf.constant(ml_dtypes array)`` works and SaveV2 saves it). int4/uint4/int2/
  uint2/float4 are stored one element per byte, low bits only (``-1`` as int4 is ``0x0f``).
* string has its own generator (``strings``) plus a few entries in ``all_dtypes``.
* DT_VARIANT (a TensorList) can be saved, and is listed by ``load_checkpoint``, but TF cannot
  turn it into numpy ("Tensorflow type 21 not convertible to numpy dtype"); it gets its own
  generator (``variant``) so it does not disturb the value comparisons.
* DT_RESOURCE cannot be saved at all (TF hits an internal CHECK), so it is not generated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = [
    "GENERATORS",
    "all_dtypes",
    "many_keys",
    "partitioned",
    "raw_slices",
    "sharded",
    "sharded_slices",
    "strings",
    "tf1_saver",
    "tf2_checkpoint",
    "v1_saver",
    "v1_sharded",
    "variant",
]

# Names of the dtypes in ``all_dtypes``, TF's spelling (``tf.DType.name``).
STANDARD_DTYPES = (
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
)
FLOAT8_DTYPES = (
    "float8_e5m2",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e4m3b11fnuz",
    "float8_e5m2fnuz",
)
SUBBYTE_DTYPES = ("int4", "uint4", "int2", "uint2", "float4_e2m1fn")
QUANTIZED_DTYPES = ("qint8", "quint8", "qint16", "quint16", "qint32")
_QUANTIZED_BASE = {
    "qint8": np.int8,
    "quint8": np.uint8,
    "qint16": np.int16,
    "quint16": np.uint16,
    "qint32": np.int32,
}


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def _prepare(directory) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _save_v2(prefix: str, tensors: dict) -> None:
    """Write ``{name: tf.Tensor}`` as one V2 bundle with the raw SaveV2 op (eager mode)."""
    tf = _tf()
    names = list(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )


# --------------------------------------------------------------------------- all_dtypes


def _np_dtype(name: str) -> np.dtype:
    if name in _QUANTIZED_BASE:
        return np.dtype(_QUANTIZED_BASE[name])
    if hasattr(np, name) and name != "bool":
        return np.dtype(getattr(np, name))
    if name == "bool":
        return np.dtype(np.bool_)
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


def _float_arrays(dt: np.dtype, rng: np.random.Generator) -> dict:
    """Values for a floating dtype: edge values, random values and random bit patterns."""
    bits = np.dtype(f"u{dt.itemsize}")
    finfo_dt = dt
    try:
        info = np.finfo(finfo_dt)
    except ValueError:  # pragma: no cover - ml_dtypes registers finfo for its types
        import ml_dtypes

        info = ml_dtypes.finfo(finfo_dt)
    edges = [0.0, -0.0, 1.0, -1.0, float(info.max), float(info.min), float(info.tiny)]
    if dt.itemsize > 1:
        edges += [float("inf"), float("-inf"), float("nan"), -float("nan")]
    edge = np.array(edges, dtype=np.float64).astype(dt)
    # NaNs with payloads and the smallest subnormal, written as raw bits.
    if dt.itemsize >= 2:
        mant = info.nmant
        expo_all = ((1 << (dt.itemsize * 8 - 1 - mant)) - 1) << mant  # exponent all ones
        sign = 1 << (dt.itemsize * 8 - 1)
        raw = np.array(
            [expo_all | 1, expo_all | (1 << (mant - 1)) | 5, sign | expo_all | 3, 1, sign | 1],
            dtype=bits,
        )
        edge = np.concatenate([edge, raw.view(dt)])
    if dt.itemsize == 1:
        every = np.arange(256, dtype=np.uint8).view(dt)  # every bit pattern, NaNs included
    else:
        every = rng.integers(0, np.iinfo(bits).max, size=97, dtype=bits, endpoint=True).view(dt)
    values = rng.normal(0, 10, size=(4, 5)).astype(dt)
    return {"edge": edge, "bits": every, "values": values}


def _int_arrays(dt: np.dtype, rng: np.random.Generator) -> dict:
    info = np.iinfo(dt)
    edge = np.array([info.min, info.max, 0, 1, info.min + 1, info.max - 1], dtype=dt)
    if info.min < 0:
        edge = np.concatenate([edge, np.array([-1], dtype=dt)])
    values = rng.integers(info.min, info.max, size=(4, 5), dtype=dt, endpoint=True)
    return {"edge": edge, "values": values}


def _subbyte_arrays(name: str, dt: np.dtype, rng: np.random.Generator) -> dict:
    import ml_dtypes

    if name == "float4_e2m1fn":
        # Every one of the 16 encodings: 0, 0.5, ..., 6 and their negatives (including -0).
        codes = np.arange(16, dtype=np.uint8).view(dt)
        values = codes[rng.integers(0, 16, size=(4, 5))]
        return {"edge": codes, "values": values}
    info = ml_dtypes.iinfo(dt)
    edge = np.arange(int(info.min), int(info.max) + 1).astype(dt)
    values = rng.integers(int(info.min), int(info.max), size=(4, 5), endpoint=True).astype(dt)
    return {"edge": edge, "values": values}


def _complex_arrays(dt: np.dtype, rng: np.random.Generator) -> dict:
    inf, nan = float("inf"), float("nan")
    edge = np.array(
        [0j, complex(-0.0, -0.0), complex(inf, -inf), complex(nan, 1.0), complex(1.0, nan)],
        dtype=dt,
    )
    part = np.finfo(np.float32 if dt.itemsize == 8 else np.float64)
    edge = np.concatenate([edge, np.array([complex(part.max, part.min)], dtype=dt)])
    values = (rng.normal(size=(4, 5)) + 1j * rng.normal(size=(4, 5))).astype(dt)
    return {"edge": edge, "values": values}


def _arrays_for(name: str, rng: np.random.Generator) -> dict:
    dt = _np_dtype(name)
    if name in SUBBYTE_DTYPES:
        arrays = _subbyte_arrays(name, dt, rng)
    elif name == "bool":
        arrays = {
            "edge": np.array([True, False]),
            "values": rng.integers(0, 2, size=(4, 5)).astype(bool),
        }
    elif name.startswith("complex"):
        arrays = _complex_arrays(dt, rng)
    elif np.issubdtype(dt, np.integer):
        arrays = _int_arrays(dt, rng)
    else:
        arrays = _float_arrays(dt, rng)
    values = arrays["values"]
    arrays["scalar"] = values.reshape(-1)[3].reshape(())  # rank 0
    arrays["empty"] = values.reshape(-1)[:0]  # shape [0]
    arrays["empty_3x0"] = values.reshape(-1)[:0].reshape(3, 0)
    arrays["empty_0x2x0"] = values.reshape(-1)[:0].reshape(0, 2, 0)
    flat = np.resize(values.reshape(-1), 2 * 3 * 1 * 4)
    arrays["rank4"] = flat.reshape(2, 3, 1, 4)
    arrays["fortran_source"] = np.asfortranarray(values)  # TF must store it row-major
    return arrays


def _to_tensor(name: str, array: np.ndarray):
    tf = _tf()
    if name in _QUANTIZED_BASE:
        # tf.constant only takes Python lists for quantized dtypes.
        return tf.constant(array.tolist(), dtype=getattr(tf, name), shape=array.shape)
    tensor = tf.constant(array)
    if tensor.dtype.name != name:  # pragma: no cover - guards against silent conversion
        raise AssertionError(f"wanted {name}, TF made {tensor.dtype.name}")
    return tensor


def all_dtypes(directory) -> str:
    """One V2 bundle (``tf.raw_ops.SaveV2``) with every dtype TF can store.

    Keys are ``<dtype>/<what>``: ``edge`` (NaN/inf/-0.0/min/max/subnormal/NaN payloads),
    ``bits`` (random raw bit patterns; every pattern for 8-bit floats), ``values`` (random
    [4,5]), ``scalar`` (rank 0), ``empty`` ([0]), ``empty_3x0``, ``empty_0x2x0``, ``rank4``
    ([2,3,1,4]) and ``fortran_source`` (a column-major numpy source). Plus a few strings.
    """
    directory = _prepare(directory)
    tf = _tf()
    rng = np.random.default_rng(20260101)
    tensors = {}
    for name in STANDARD_DTYPES + FLOAT8_DTYPES + SUBBYTE_DTYPES + QUANTIZED_DTYPES:
        for what, array in _arrays_for(name, rng).items():
            tensors[f"{name}/{what}"] = _to_tensor(name, array)
    tensors["string/values"] = tf.constant([[b"a", b""], [b"\xff\x00", b"long" * 70]])
    tensors["string/scalar"] = tf.constant(b"scalar string")
    tensors["string/empty"] = tf.constant([], dtype=tf.string)
    tensors["string/empty_3x0"] = tf.zeros([3, 0], dtype=tf.string)
    tensors["string/rank4"] = tf.constant(
        np.array([str(i).encode() * i for i in range(24)], dtype=object).reshape(2, 3, 1, 4)
    )
    prefix = str(directory / "dtypes")
    _save_v2(prefix, tensors)
    return prefix


# --------------------------------------------------------------------------- strings


def strings(directory) -> str:
    """String tensors: empty, long (varint lengths of 2 and 3 bytes), non-UTF-8, shapes."""
    directory = _prepare(directory)
    tf = _tf()
    rng = np.random.default_rng(7)
    random_bytes = rng.integers(0, 256, size=20000, dtype=np.uint8).tobytes()
    cases = {
        "empty_strings": np.array([b"", b"", b""], dtype=object),
        "one_empty": np.array([b""], dtype=object),
        "long_300": np.array([b"x" * 300, b"y", b"z" * 129], dtype=object),  # 2-byte varints
        "long_20k": np.array([random_bytes, b"", random_bytes[:16385]], dtype=object),  # 3-byte
        "length_127_128": np.array([b"a" * 127, b"b" * 128, b"c" * 16383, b"d" * 16384], object),
        "non_utf8": np.array([b"\xff\x00\xfe", b"\x00", b"\x80abc\xc3"], dtype=object),
        "nul_only": np.array([b"\x00" * 5], dtype=object),
        "utf8": np.array(["héllo wörld ✓".encode(), "变量".encode()], dtype=object),
        "empty_shape_0": np.zeros([0], dtype=object),
        "empty_shape_2x0": np.zeros([2, 0], dtype=object),
        "scalar": np.array(b"just one", dtype=object),
        "scalar_empty": np.array(b"", dtype=object),
        "scalar_long": np.array(random_bytes[:5000], dtype=object),
        "matrix_2x3": np.array(
            [[b"r0c0", b"", b"r0c2" * 40], [b"\x01\x02", b"r1c1", b"\xff" * 3]], dtype=object
        ),
        "rank3": np.array(
            [str(i).encode() * (i % 5) for i in range(2 * 3 * 4)], dtype=object
        ).reshape(2, 3, 4),
        "many_short": np.array([bytes([i % 256]) * (i % 3) for i in range(1000)], dtype=object),
    }
    tensors = {}
    for name, array in cases.items():
        if array.size == 0:
            tensors[name] = tf.zeros(array.shape, dtype=tf.string)
        else:
            tensors[name] = tf.constant(array, dtype=tf.string)
    prefix = str(directory / "strings")
    _save_v2(prefix, tensors)
    return prefix


# --------------------------------------------------------------------------- many_keys


def many_keys(directory) -> str:
    """9000 small tensors with long, similar names: the index spans several table blocks
    (TF's block size is 256 KiB) and uses prefix compression heavily. Names include
    non-ASCII UTF-8, characters that sort around '/', and upper/lower case."""
    directory = _prepare(directory)
    tf = _tf()
    tensors = {}
    for i in range(9000):
        name = f"tower_{i % 7}/block_{i:05d}/sub-layer.{i % 3}/weights_with_a_long_suffix_{i}"
        tensors[name] = tf.constant(np.int32(i))
    for name in ("a", "a.b", "a/b", "a0", "A", "Z", "_", "~", "é", "變量/權重", "a b", "a\tb"):
        tensors[name] = tf.constant(np.float32(len(name)))
    prefix = str(directory / "many")
    _save_v2(prefix, tensors)
    return prefix


def raw_slices(directory) -> str:
    """Sliced entries written directly with SaveV2 slice specs (``"4 3 0,2:-"``).

    Unlike Python partitioned variables, these use ``-`` (a full dimension: no length in the
    TensorSliceProto, -1 in the slice key). ``e`` is a [4,0] tensor in two empty slices, and
    ``whole`` is one slice covering its whole tensor, which TF stores as a plain entry.
    """
    directory = _prepare(directory)
    tf = _tf()
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    cube = np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 12
    slices = [
        ("w", "4 3 0,2:-", matrix[:2]),
        ("w", "4 3 2,2:-", matrix[2:]),
        ("c", "2 3 4 -:0,1:-", cube[:, 0:1, :]),
        ("c", "2 3 4 -:1,2:0,2", cube[:, 1:3, 0:2]),
        ("c", "2 3 4 -:1,2:2,2", cube[:, 1:3, 2:4]),
        ("e", "4 0 0,1:-", np.zeros((1, 0), dtype=np.float32)),
        ("e", "4 0 1,3:-", np.zeros((3, 0), dtype=np.float32)),
        ("whole", "3 2 0,3:0,2", np.arange(6, dtype=np.int32).reshape(3, 2)),
        ("plain", "", np.array([1.5, 2.5], dtype=np.float64)),
    ]
    prefix = str(directory / "raw")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=[name for name, _, _ in slices],
        shape_and_slices=[spec for _, spec, _ in slices],
        tensors=[tf.constant(array) for _, _, array in slices],
    )
    return prefix


# --------------------------------------------------------------------------- TF1 graph mode
def _partition_initializer(array):
    """Initializer for a (possibly partitioned) TF1 variable holding ``array`` in full: each
    part receives its own shape and offset, and gets its block of ``array``."""
    tf = _tf()
    array = np.asarray(array)

    def initializer(shape, dtype=None, partition_info=None):
        start = [0] * len(shape) if partition_info is None else partition_info.var_offset
        region = tuple(slice(o, o + n) for o, n in zip(start, shape))
        return tf.constant(array[region], dtype=dtype)

    return initializer


def tf1_saver(directory) -> str:
    """TF1 graph-mode ``Saver`` (V2) of a small model after two training steps.

    Adam (``<var>/Adam``, ``<var>/Adam_1``, ``beta1_power``, ``beta2_power``) on one part,
    Momentum (``<var>/Momentum``) on the other, ``global_step``. Saved twice with
    ``global_step`` so the directory holds ``model.ckpt-1`` and ``model.ckpt-2`` and a
    ``checkpoint`` state file (absolute paths, as TF1 Saver writes them). Returns the newest.
    """
    directory = _prepare(directory)
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(1)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.constant(rng.normal(size=(8, 4)).astype(np.float32))
        y = tf.constant(rng.normal(size=(8, 2)).astype(np.float32))
        init = v1.initializers.random_normal(seed=3)
        with v1.variable_scope("model"):
            w1 = v1.get_variable("dense/kernel", [4, 6], initializer=init)
            b1 = v1.get_variable("dense/bias", [6], initializer=v1.zeros_initializer())
            w2 = v1.get_variable("out/kernel", [6, 2], initializer=init)
            b2 = v1.get_variable("out/bias", [2], initializer=v1.zeros_initializer())
            scale = v1.get_variable("scale", [], dtype=tf.float64, initializer=init)
        counter = v1.get_variable(
            "counter", [3], dtype=tf.int32, initializer=v1.zeros_initializer(), trainable=False
        )
        global_step = v1.train.get_or_create_global_step()
        hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
        pred = (tf.matmul(hidden, w2) + b2) * tf.cast(scale, tf.float32)
        loss = tf.reduce_mean(tf.square(pred - y))
        adam = v1.train.AdamOptimizer(0.01).minimize(
            loss, var_list=[w1, b1], global_step=global_step
        )
        momentum = v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss, var_list=[w2, b2, scale])
        step = tf.group(adam, momentum, v1.assign_add(counter, [1, 2, 3]))
        saver = v1.train.Saver(max_to_keep=5)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = None
            for _ in range(2):
                sess.run(step)
                prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=global_step)
    return prefix


def partitioned(directory) -> str:
    """TF1 partitioned variables saved with ``Saver`` (sliced entries plus full entries).

    * ``part/fixed`` float32 [10,4] in 3 parts along axis 0 (4,3,3 rows), with Momentum slots
      (themselves partitioned), after one training step;
    * ``part/minmax`` float32 [37,5], ``min_max_variable_partitioner`` along axis 0 (uneven);
    * ``part/int64`` int64 [7,3] in 2 parts; ``part/axis1`` float64 [3,8] split along axis 1;
    * ``part/rank3`` int32 [5,2,3]; ``part/bool`` bool [6] in 4 parts;
    * ``part/long`` int8 [20000] in 3 parts (multi-byte slice offsets in the keys);
    * ``plain`` [2,2], not partitioned. (TF cannot partition a variable with a 0 dimension.)
    """
    directory = _prepare(directory)
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(2)
    graph = tf.Graph()
    with graph.as_default():
        const = _partition_initializer

        fixed = v1.get_variable(
            "part/fixed",
            shape=[10, 4],
            initializer=const(rng.normal(size=(10, 4)).astype(np.float32)),
            partitioner=v1.fixed_size_partitioner(3),
        )
        minmax = v1.get_variable(
            "part/minmax",
            shape=[37, 5],
            initializer=const(rng.normal(size=(37, 5)).astype(np.float32)),
            partitioner=v1.min_max_variable_partitioner(
                max_partitions=4, axis=0, min_slice_size=128
            ),
        )
        v1.get_variable(
            "part/int64",
            shape=[7, 3],
            dtype=tf.int64,
            initializer=const(np.arange(-10, 11, dtype=np.int64).reshape(7, 3) * (1 << 40)),
            partitioner=v1.fixed_size_partitioner(2),
        )
        v1.get_variable(
            "part/axis1",
            shape=[3, 8],
            dtype=tf.float64,
            initializer=const(rng.normal(size=(3, 8))),
            partitioner=v1.fixed_size_partitioner(3, axis=1),
        )
        v1.get_variable(
            "part/rank3",
            shape=[5, 2, 3],
            dtype=tf.int32,
            initializer=const(np.arange(30, dtype=np.int32).reshape(5, 2, 3)),
            partitioner=v1.fixed_size_partitioner(2),
        )
        v1.get_variable(
            "part/bool",
            shape=[6],
            dtype=tf.bool,
            initializer=const([True, False, False, True, True, False]),
            partitioner=v1.fixed_size_partitioner(4),
        )
        # Slice starts of 6667 and 13334 take 3-byte OrderedCode encodings in the slice keys.
        v1.get_variable(
            "part/long",
            shape=[20000],
            dtype=tf.int8,
            initializer=const((np.arange(20000) % 251 - 125).astype(np.int8)),
            partitioner=v1.fixed_size_partitioner(3),
        )
        v1.get_variable("plain", initializer=np.array([[1, 2], [3, 4]], dtype=np.float32))
        loss = tf.reduce_sum(tf.square(tf.convert_to_tensor(fixed))) + tf.reduce_sum(
            tf.convert_to_tensor(minmax)
        )
        train = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, var_list=list(fixed))
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(train)
            prefix = saver.save(sess, str(directory / "part.ckpt"))
    return prefix


def sharded(directory) -> str:
    """TF1 ``Saver(sharded=True)`` with variables on two CPU devices: two data files.

    The session is given two CPU devices with ``ConfigProto(device_count={"CPU": 2})``, so no
    logical-device setup (which must precede TF initialisation) is needed. A partitioned
    variable has parts on both devices, so its slices live in different data files.
    """
    directory = _prepare(directory)
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(3)
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            v1.get_variable("dev0/w", initializer=rng.normal(size=(5, 3)).astype(np.float32))
            v1.get_variable("dev0/ids", initializer=np.arange(-4, 4, dtype=np.int64))
            global_step = v1.train.get_or_create_global_step()
        with tf.device("/cpu:1"):
            v1.get_variable("dev1/w", initializer=rng.normal(size=(4, 2)).astype(np.float64))
            v1.get_variable("dev1/s", initializer=np.array([b"ab", b"", b"\xffz"]))
            v1.get_variable("dev1/half", initializer=np.array([1.5, -0.0], dtype=np.float16))
        # Each part goes on its own device: cpu:0, cpu:1, cpu:0, cpu:1.
        parts = iter(["/cpu:0", "/cpu:1", "/cpu:0", "/cpu:1"])

        def device_fn(op):
            if op.type in ("VarHandleOp", "VariableV2") and "across" in op.name:
                return next(parts)
            return op.device

        with graph.device(device_fn):
            v1.get_variable(
                "across/w",
                shape=[8, 3],
                initializer=_partition_initializer(np.arange(24, dtype=np.float32).reshape(8, 3)),
                partitioner=v1.fixed_size_partitioner(4),
            )
        saver = v1.train.Saver(sharded=True)
        config = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.assign_add(global_step, 7))
            prefix = saver.save(sess, str(directory / "sharded.ckpt"), global_step=global_step)
    return prefix


def v1_saver(directory) -> str:
    """A legacy V1 checkpoint (one table file named by the prefix) from TF1 ``Saver`` with
    ``write_version=V1``: float, float64, int64 ``global_step``, string, bool, empty tensors."""
    directory = _prepare(directory)
    tf = _tf()
    v1 = tf.compat.v1
    rng = np.random.default_rng(6)
    graph = tf.Graph()
    with graph.as_default():
        v1.get_variable("w", initializer=rng.normal(size=(3, 4)).astype(np.float32))
        v1.get_variable("d", initializer=np.array([-0.0, np.inf, 1e-300]))
        v1.get_variable("words", initializer=np.array([b"", b"\xff\x00", b"v1" * 150], object))
        v1.get_variable("flags", initializer=np.array([[True], [False]]))
        v1.get_variable("empty", initializer=np.zeros((0, 3), dtype=np.float32))
        global_step = v1.train.get_or_create_global_step()
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.assign(global_step, 42))
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=global_step)
    return prefix


def v1_sharded(directory) -> str:
    """A sharded legacy V1 checkpoint: ``Saver(sharded=True, write_version=V1)`` over two CPU
    devices writes ``model.ckpt-3-0000{0,1}-of-00002`` and returns (and records in the state
    file) the glob pattern ``model.ckpt-3-?????-of-00002``."""
    directory = _prepare(directory)
    tf = _tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            v1.get_variable("a/w", initializer=np.arange(6, dtype=np.float32).reshape(2, 3))
            global_step = v1.train.get_or_create_global_step()
        with tf.device("/cpu:1"):
            v1.get_variable("b/ids", initializer=np.array([-1, 0, 1 << 40], dtype=np.int64))
            v1.get_variable("b/names", initializer=np.array([b"x", b"", b"zz\x00"], object))
        saver = v1.train.Saver(sharded=True, write_version=v1.train.SaverDef.V1)
        config = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.assign(global_step, 3))
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=global_step)
    return prefix


# --------------------------------------------------------------------------- TF2


def sharded_slices(directory) -> str:
    """TF2 ``Checkpoint.write`` with ``MaxShardSizePolicy``: several data files, and single
    large tensors split into slices across files (sliced entries in a TF2 checkpoint)."""
    directory = _prepare(directory)
    tf = _tf()
    rng = np.random.default_rng(4)
    checkpoint = tf.train.Checkpoint(
        big=tf.Variable(rng.normal(size=(64, 40)).astype(np.float32)),
        ids=tf.Variable(np.arange(300, dtype=np.int64) * -3),
        wide=tf.Variable(rng.normal(size=(3, 7, 50)).astype(np.float64)),
        words=tf.Variable(np.array([b"a" * 50, b"b" * 70, b"", b"\xff"])),
        small=tf.Variable(3.5),
    )
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=2000)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    return checkpoint.write(str(directory / "sliced"), options=options)


def tf2_checkpoint(directory) -> str:
    """``tf.train.Checkpoint(model=keras_model, optimizer=adam)`` saved twice by a
    ``CheckpointManager`` (relative paths in ``checkpoint``), after training steps."""
    directory = _prepare(directory)
    tf = _tf()
    import keras

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)

    # A subclassed model: its layers are attributes, so the keys read
    # ``model/hidden/kernel/.ATTRIBUTES/VARIABLE_VALUE``. (A Keras 3 Sequential model's
    # weights are only reachable as ``optimizer/_trainable_variables/<n>``; the legacy
    # ``layer_with_weights-<k>`` names need tf_keras, which is not a test dependency.)
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.norm = keras.layers.BatchNormalization()
            self.head = keras.layers.Dense(2)

        def call(self, inputs, training=False):
            return self.head(self.norm(self.hidden(inputs), training=training))

    model = Net()
    optimizer = keras.optimizers.Adam(1e-3)
    x = tf.constant(rng.normal(size=(16, 4)).astype(np.float32))
    y = tf.constant(rng.normal(size=(16, 2)).astype(np.float32))

    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        step=tf.Variable(0, dtype=tf.int64),
        vocab=tf.Variable(np.array([b"<pad>", b"hello", "wörld".encode()])),
    )
    manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=3)
    prefix = None
    for _ in range(2):
        train_step()
        checkpoint.step.assign_add(1)
        prefix = manager.save()
    return prefix


def variant(directory) -> str:
    """A DT_VARIANT (TensorList) entry next to ordinary ones; TF lists it but cannot read it."""
    directory = _prepare(directory)
    tf = _tf()
    tensor_list = tf.raw_ops.TensorListFromTensor(
        tensor=tf.constant([1.0, 2.0]), element_shape=tf.constant([], dtype=tf.int32)
    )
    prefix = str(directory / "variant")
    _save_v2(prefix, {"a_before": tf.constant([1, 2]), "list": tensor_list, "z": tf.constant(1.0)})
    return prefix


GENERATORS: dict[str, Callable[[Path], str]] = {
    "all_dtypes": all_dtypes,
    "strings": strings,
    "many_keys": many_keys,
    "tf1_saver": tf1_saver,
    "partitioned": partitioned,
    "raw_slices": raw_slices,
    "sharded": sharded,
    "sharded_slices": sharded_slices,
    "tf2_checkpoint": tf2_checkpoint,
    "variant": variant,
    "v1_saver": v1_saver,
    "v1_sharded": v1_sharded,
}


if __name__ == "__main__":  # pragma: no cover - manual inspection helper
    import sys
    import tempfile
    import time

    root = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tfgen-"))
    for gen_name in sys.argv[2:] or GENERATORS:
        start = time.perf_counter()
        out = GENERATORS[gen_name](root / gen_name)
        print(f"{gen_name:16s} {time.perf_counter() - start:6.2f}s {out}")
