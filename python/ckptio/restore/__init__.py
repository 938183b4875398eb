"""Restore plans: which checkpoint tensor fills each target, how, and what is left over.

    plan = ckptio.plan_restore("vgg_16.ckpt", model_shapes,          # {name: shape}, ...
                               target_prefix="my/", reshape=True, ignore_missing=True,
                               transforms={"vgg_16/conv1/conv1_1/weights": Reverse(axis=2)})
    print(plan)              # a table: target <- source, shapes, transforms; then missing,
                             # targets not restored, unused checkpoint tensors, problems
    plan.to_json()           # the same, as JSON
    arrays = plan.load()     # {target: ndarray}: zero-copy views where no transform applies
    plan.load(callback=lambda name, array: model[name].copy_(ckptio.as_torch(array)))
                             # or one at a time, into a PyTorch state_dict `model`

The target is described without TensorFlow (see `ckptio.targets`): `{name: shape}`,
`{name: (shape, dtype)}`, a PyTorch `state_dict`, Keras-style weight lists, a list of names.

How targets pair with checkpoint tensors (see `ckptio.mapping`):

* default: each target from the tensor of the same name (TF `Saver`, TF-slim
  `assign_from_checkpoint_fn`), with optional `source_prefix` / `target_prefix`
  (`target_prefix="my/"`: the model was built under an extra `my/` scope);
* `assignment_map=`: `tf.compat.v1.train.init_from_checkpoint`'s maps, exactly; targets the
  map does not reach are left alone (listed as not restored);
* `var_list=`: Saver-style `{checkpoint name: target}` (`{'v3': 'v3_x'}`) or a list of names
  and pairs; only these targets are restored;
* `layout="torch"`: names and layouts converted to PyTorch's (`ckptio.transforms`).
`only=` restricts the targets (e.g. to a `select(...)` result); the others are listed as not
restored. Targets named `<var>/part_<n>` are the parts of a partitioned variable: each gets its
region of the full tensor (read alone when no transform applies).

Each entry's steps run in order: the `transforms=` given for it (by target name, else by
checkpoint name; or a callable), then the layout rule, then, with `reshape=True`, a row-major
reshape to the target shape when the element counts agree (TF-slim `reshape_variables`), then,
with `cast=True`, a cast to the target dtype. Casts follow the cast policy (`ckptio.casting`):
one that could change values beyond rounding floats (float to integer, an integer type too
narrow) is a problem unless `allow_lossy_cast=True`, and then saturates.

Errors. With `errors="raise"` (default) the first problem raises `RestoreError`, a
`ValueError` as in TF (and a `ckptio.CheckpointError`), with TF's wording where TF has one and
the checkpoint and tensor named: a checkpoint tensor that is missing (unless
`ignore_missing=True`: then it is only reported, as slim's `ignore_missing_vars`), shapes
that differ, dtypes that differ (TF fails only when the restore runs; we fail when planning),
partitions that do not tile the tensor, transforms that do not apply, a `transforms=` key that
names no planned target or checkpoint tensor (with the closest names). Malformed assignment
maps always raise, and so does a scope pair whose target scope holds no target (TF silently
does nothing there). With `errors="report"` the plan is returned with `plan.problems` listed;
`plan.load()` refuses to run until they are gone.

One deliberate difference from TF: for scope pairs (`{'old/': 'new/'}`) TF checks no shapes and
a `[5]` variable silently receives a `[4]` tensor when the initializer runs; here it is a shape
problem like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "PRESETS",
    "Missing",
    "NameView",
    "ObjectGraph",
    "PlanEntry",
    "Problem",
    "RestoreError",
    "RestorePlan",
    "Selection",
    "object_graph",
    "plan_restore",
    "select",
]

# Imported on first use: `ckptio.restore.objgraph` (what the writer and planner need) does not
# load the restore planner.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Missing": "plan",
        "PlanEntry": "plan",
        "Problem": "plan",
        "RestorePlan": "plan",
        "TransformSpec": "plan",
        "plan_restore": "plan",
        "NameView": "mapping",
        "RestoreError": "mapping",
        "ObjectGraph": "objgraph",
        "object_graph": "objgraph",
        "PRESETS": "selection",
        "Selection": "selection",
        "select": "selection",
    },
)

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .mapping import NameView, RestoreError
    from .objgraph import ObjectGraph, object_graph
    from .plan import Missing, PlanEntry, Problem, RestorePlan, plan_restore
    from .selection import PRESETS, Selection, select
