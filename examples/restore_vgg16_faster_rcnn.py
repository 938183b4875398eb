"""Faster R-CNN's VGG-16 initialisation (tf-faster-rcnn `fix_variables`), without TensorFlow.

TF-slim's `vgg_16.ckpt` stores the fully connected layers as convolutions and was trained on
RGB images; a Faster R-CNN built on it uses dense fc6/fc7 and BGR input. Its `fix_variables`
restores three tensors into temporaries and then assigns:

    fc6/weights       [7, 7, 512, 4096] -> tf.reshape to [25088, 4096]
    fc7/weights       [1, 1, 4096, 4096] -> tf.reshape to [4096, 4096]
    conv1_1/weights   [3, 3, 3, 64]     -> tf.reverse(w, [2])   (RGB -> BGR input channels)

Here the model is also built under an extra `my/` scope, which the checkpoint does not have.
One plan does all of it: `target_prefix="my/"`, `reshape=True` (row-major, as tf.reshape),
and a `Reverse(axis=2)` for conv1_1. The bundled checkpoint is a small stand-in (legacy V1
format, like the real `vgg_16.ckpt`): 4 conv channels, fc size 16.

    python examples/restore_vgg16_faster_rcnn.py [CHECKPOINT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio
from ckptio.transforms import Reverse

DEFAULT = Path(__file__).resolve().parent / "data" / "vgg_16" / "vgg_16.ckpt"

# The detection model's variables (stand-in sizes): the VGG-16 trunk under `my/`, fc6/fc7 as
# dense layers, and new RPN / classification layers the checkpoint knows nothing about.
MODEL = {
    "my/vgg_16/conv1/conv1_1/weights": (3, 3, 3, 4),
    "my/vgg_16/conv1/conv1_1/biases": (4,),
    "my/vgg_16/conv1/conv1_2/weights": (3, 3, 4, 4),
    "my/vgg_16/conv1/conv1_2/biases": (4,),
    "my/vgg_16/fc6/weights": (7 * 7 * 4, 16),
    "my/vgg_16/fc6/biases": (16,),
    "my/vgg_16/fc7/weights": (16, 16),
    "my/vgg_16/fc7/biases": (16,),
    "my/vgg_16/rpn_conv/3x3/weights": (3, 3, 4, 8),
    "my/vgg_16/cls_score/weights": (16, 3),
}


def restore_trunk(checkpoint, model=MODEL):
    """The plan filling the VGG-16 trunk of `model` from `checkpoint`."""
    return ckptio.plan_restore(
        checkpoint,
        model,
        target_prefix="my/",
        reshape=True,
        transforms={"vgg_16/conv1/conv1_1/weights": Reverse(axis=2)},
        ignore_missing=True,  # the detection heads are new
    )


def main(argv: list[str]) -> int:
    plan = restore_trunk(argv[1] if len(argv) > 1 else DEFAULT)
    print(plan)
    values = plan.load()
    fc6 = values["my/vgg_16/fc6/weights"]
    print(f"\nfc6 as a dense kernel: {fc6.shape}; {len(values)} arrays loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
