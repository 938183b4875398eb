"""Fine-tune only the last layer: split a model's variables into frozen and trainable sets by
scope, and restore the frozen ones from the pretrained checkpoint.

TF-slim's recipe (its README, "Fine-tuning a model from an existing checkpoint"):

    trainable = slim.get_variables("vgg_16/fc8")                    # a new 5-class head
    frozen = slim.get_variables_to_restore(exclude=["vgg_16/fc8"])
    init_fn = slim.assign_from_checkpoint_fn("vgg_16.ckpt", frozen)
    train_op = slim.learning.create_train_op(loss, optimizer, variables_to_train=trainable)

TF-slim matches scopes as string prefixes (`vgg_16/fc8` would also take a `vgg_16/fc8_aux`
layer); `match="path"` matches whole path components instead.

    python examples/finetune_last_layer.py [CHECKPOINT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio

DEFAULT = Path(__file__).resolve().parent / "data" / "vgg_16" / "vgg_16.ckpt"

MODEL = {
    "vgg_16/conv1/conv1_1/weights": (3, 3, 3, 4),
    "vgg_16/conv1/conv1_1/biases": (4,),
    "vgg_16/conv1/conv1_2/weights": (3, 3, 4, 4),
    "vgg_16/conv1/conv1_2/biases": (4,),
    "vgg_16/fc6/weights": (7, 7, 4, 16),
    "vgg_16/fc6/biases": (16,),
    "vgg_16/fc7/weights": (1, 1, 16, 16),
    "vgg_16/fc7/biases": (16,),
    "vgg_16/fc8/weights": (1, 1, 16, 5),  # 5 classes instead of 10: trained from scratch
    "vgg_16/fc8/biases": (5,),
}


def split(model=MODEL, last: str = "vgg_16/fc8", match: str = "slim"):
    """(frozen names, trainable names)."""
    trainable = ckptio.select(model, scope=last, match=match)
    frozen = ckptio.select(model, exclude=[last], match=match)
    return frozen, trainable


def restore_frozen(checkpoint, model=MODEL):
    frozen, _ = split(model)
    return ckptio.plan_restore(checkpoint, model, only=frozen)


def main(argv: list[str]) -> int:
    frozen, trainable = split()
    print("trainable:", ", ".join(trainable))
    print(frozen.explain(), "\n")
    plan = restore_frozen(argv[1] if len(argv) > 1 else DEFAULT)
    print(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
