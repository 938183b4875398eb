"""DeepLab-style initialisation from a pretrained checkpoint, without TensorFlow.

DeepLab (`train_utils.get_model_init_fn`) fine-tunes on a new label set like this:

    exclude = ["global_step"] + last_layers      # unless initialize_last_layer
    variables = slim.get_variables_to_restore(exclude=exclude)
    slim.assign_from_checkpoint(ckpt, variables, ignore_missing_vars=True)

ckptio does the same selection (TF-slim's prefix matching: "aspp" also drops "aspp1_depthwise")
on a TF-free description of the new model, and plans the restore with missing variables
reported instead of fatal.

    python examples/restore_deeplab.py [CHECKPOINT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio

DEFAULT = Path(__file__).resolve().parent / "data" / "deeplab_pretrained"

LAST_LAYERS = [
    "logits",
    "image_pooling",
    "aspp",
    "concat_projection",
    "decoder",
    "meta_architecture",
]

# The new model (7 classes instead of 21): every variable of its training graph and its shape,
# in creation order, as `[(v.op.name, v.shape) for v in tf.global_variables()]` would list them.
MODEL = {
    "MobilenetV2/Conv/weights": (3, 3, 3, 8),
    "MobilenetV2/Conv/BatchNorm/gamma": (8,),
    "MobilenetV2/Conv/BatchNorm/beta": (8,),
    "MobilenetV2/Conv/BatchNorm/moving_mean": (8,),
    "MobilenetV2/Conv/BatchNorm/moving_variance": (8,),
    "MobilenetV2/expanded_conv/depthwise/depthwise_weights": (3, 3, 8, 1),
    "MobilenetV2/expanded_conv/project/weights": (1, 1, 8, 8),
    "MobilenetV2/extra_block/weights": (1, 1, 8, 8),  # new: not in the checkpoint
    "aspp0/weights": (1, 1, 8, 4),
    "aspp1_depthwise/depthwise_weights": (3, 3, 8, 1),
    "image_pooling/weights": (1, 1, 8, 4),
    "concat_projection/weights": (1, 1, 8, 4),
    "decoder/feature_projection0/weights": (1, 1, 8, 4),
    "logits/semantic/weights": (1, 1, 4, 7),
    "logits/semantic/biases": (7,),
    "global_step": ((), "int64"),
    "MobilenetV2/Conv/weights/Momentum": (3, 3, 3, 8),
    "MobilenetV2/expanded_conv/project/weights/Momentum": (1, 1, 8, 8),
    "logits/semantic/weights/Momentum": (1, 1, 4, 7),
}


def init_from_pretrained(checkpoint, model=MODEL, initialize_last_layer: bool = False):
    """The restore plan DeepLab's init function carries out, as a `ckptio.RestorePlan`."""
    exclude = ["global_step"] + ([] if initialize_last_layer else LAST_LAYERS)
    names = ckptio.select(model, exclude=exclude)
    return ckptio.plan_restore(checkpoint, model, only=names, ignore_missing=True)


def main(argv: list[str]) -> int:
    plan = init_from_pretrained(argv[1] if len(argv) > 1 else DEFAULT)
    print(plan)
    values = plan.load()  # {variable name: read-only array}, to feed the model's variables
    print(f"\nloaded {len(values)} arrays, {sum(v.nbytes for v in values.values()):,d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
