"""Write seed corpora for the fuzz targets into OUT/<target>/ (python fuzz/make_seeds.py OUT).

Seeds come from checkpoints ckptio writes itself (byte-identical to TF's writer: every dtype,
strings, partitioned-style slice keys are not among them) and, when the directory exists, the
real checkpoints in ../shared/fixtures/real (V1 and V2 written by TF 0.x-2.x).
"""

from __future__ import annotations

import struct
import sys
import tempfile
from pathlib import Path

import ckptio
import numpy as np

HERE = Path(__file__).resolve().parent
REAL = HERE.parents[1] / "shared" / "fixtures" / "real"
MAX_SEED = 64 * 1024

sys.path.insert(0, str(HERE.parent / "tests"))
from tablegen import read_table  # noqa: E402


def synthetic_bundles(directory: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    tensors = {
        "f32": rng.normal(size=(3, 4)).astype("f4"),
        "f16": np.arange(5, dtype="f2"),
        "i64": np.int64(-7),
        "u8": np.arange(6, dtype="u1").reshape(2, 3),
        "b": np.array([True, False]),
        "c64": np.array([1 + 2j], dtype="c8"),
        "empty": np.zeros((0, 3), "f4"),
        "s": np.array([b"", b"abc", b"\xff\x00" * 70], dtype=object),
        "scalar_s": b"hello",
    }
    prefixes = [ckptio.save(directory / "many", tensors)]
    prefixes.append(ckptio.save(directory / "one", {"x": np.float32(1.0)}))
    return [Path(p) for p in prefixes]


def main(out: Path) -> None:
    seeds: dict[str, list[bytes]] = {t: [] for t in ("table", "proto", "snappy", "bundle", "v1")}
    with tempfile.TemporaryDirectory() as tmp:
        prefixes = synthetic_bundles(Path(tmp))
        v1_files: list[Path] = []
        if REAL.is_dir():
            for index in sorted(REAL.glob("*/*.index")):
                prefixes.append(index.with_suffix(""))
            v1_files = [
                f
                for f in sorted(REAL.glob("v1_*/*"))
                if f.is_file() and f.suffix not in (".json",) and f.name != "checkpoint"
            ]
        for prefix in prefixes:
            index = prefix.with_name(prefix.name + ".index").read_bytes()
            data_file = prefix.with_name(prefix.name + ".data-00000-of-00001")
            seeds["table"].append(index)
            seeds["proto"] += [v for _, v in read_table(index)][:20]
            seeds["proto"] += [k for k, _ in read_table(index) if k.startswith(b"\0")][:5]
            if data_file.exists() and len(index) + data_file.stat().st_size <= MAX_SEED:
                bundle = struct.pack("<I", len(index)) + index + data_file.read_bytes()
                seeds["bundle"].append(bundle)
        for f in v1_files:
            if f.stat().st_size <= MAX_SEED:
                seeds["v1"].append(f.read_bytes())
                seeds["table"].append(f.read_bytes())
    try:
        import cramjam

        for blob in seeds["table"][:10]:
            seeds["snappy"].append(bytes(cramjam.snappy.compress_raw(blob)))
    except ImportError:
        seeds["snappy"].append(b"\x0a\x24abcd\x05\x04")
    for target, blobs in seeds.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for i, blob in enumerate(blobs):
            (d / f"seed-{i:04d}").write_bytes(blob)
        print(f"{target}: {len(blobs)} seeds")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
