"""A first look inside a TensorFlow checkpoint with ckptio, no TensorFlow needed.

    python examples/quickstart.py [CHECKPOINT]

CHECKPOINT is a prefix, a directory, an `.index` or a `.data-*` file; by default the tiny
convnet bundled in examples/data/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio
import numpy as np

DEFAULT = Path(__file__).resolve().parent / "data" / "tiny_convnet"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else DEFAULT
    with ckptio.open(path, verify=True) as ckpt:  # verify: every checksum, once
        print(f"{ckpt.path}  ({ckpt.format}, {len(ckpt)} tensors, checksums OK)\n")
        total = 0
        for name in ckpt:
            info = ckpt.info(name)
            total += info.nbytes
            dtype = info.dtype_name + (" (partitioned)" if info.sliced else "")
            print(f"  {name:48s} {dtype:22s} {list(info.shape)!s:16s} {info.nbytes:>9,d} B")
        print(f"\n  total {total:,d} bytes")

        kernel = ckpt["convnet/conv1/weights"]  # a zero-copy, read-only view
        print(
            f"\nconvnet/conv1/weights: shape {kernel.shape}, mean {kernel.mean():+.4f}, "
            f"std {kernel.std():.4f}, writeable={kernel.flags.writeable}"
        )
        bgr = kernel[:, :, ::-1, :]  # RGB -> BGR input channels, still a view
        print(f"  as BGR: first filter, first pixel {np.round(bgr[0, 0, :, 0], 4)}")
        first_rows = ckpt.get_slice("convnet/embedding")[:3]  # reads only the slices it needs
        print(f"convnet/embedding[:3] (from its stored slices):\n{np.round(first_rows, 4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
