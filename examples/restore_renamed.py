"""Restore some variables under new names: `v1`, `v2` as they are, `v3` into `v3_x`.

The TF1 way is a Saver with an explicit dict, or `init_from_checkpoint` with exact pairs:

    tf.compat.v1.train.Saver({"v1": v1, "v2": v2, "v3": v3_x}).restore(sess, ckpt)
    tf.compat.v1.train.init_from_checkpoint(ckpt, {"v1": "v1", "v2": "v2", "v3": "v3_x"})

ckptio plans both from names alone; variables outside the map keep their own initial values.

    python examples/restore_renamed.py [CHECKPOINT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio

DEFAULT = Path(__file__).resolve().parent / "data" / "renamed_vars"

MODEL = {"v1": (2, 3), "v2": (4,), "v3_x": (3, 3), "fresh": (5,)}


def restore_renamed(checkpoint, model=MODEL):
    """Saver semantics: only these three, each from the named checkpoint tensor."""
    return ckptio.plan_restore(checkpoint, model, var_list=["v1", "v2", ("v3", "v3_x")])


def restore_with_assignment_map(checkpoint, model=MODEL):
    """The same with `init_from_checkpoint` semantics."""
    return ckptio.plan_restore(
        checkpoint, model, assignment_map={"v1": "v1", "v2": "v2", "v3": "v3_x"}
    )


def main(argv: list[str]) -> int:
    checkpoint = argv[1] if len(argv) > 1 else DEFAULT
    plan = restore_renamed(checkpoint)
    print(plan)
    assert plan.pairs() == restore_with_assignment_map(checkpoint).pairs()
    print("\nv3_x =\n", plan.load()["v3_x"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
