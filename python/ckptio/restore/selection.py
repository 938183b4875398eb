"""Choosing variables by name, scope and suffix, with TF-slim's semantics, and presets.

    ckptio.select(ckpt, exclude=["global_step", "logits"])          # slim.get_variables_to_restore
    ckptio.select(model_names, scope="vgg_16/fc8")                   # slim.get_variables(scope)
    ckptio.select(ckpt, suffix="weights")                            # get_variables_by_suffix
    ckptio.select(ckpt, name="biases", scope="conv1")                # get_variables_by_name
    ckptio.select(ckpt, drop="training_state")                       # slim.get_model_variables
    ckptio.select(ckpt, include=["vgg_16/fc8"], match="path")        # whole path components

It works on a checkpoint (its keys), a `NameView`, a path, or any list of names or variables
(e.g. a target model's; see `ckptio.targets`), and returns a `Selection`: the chosen names in
order, plus `.dropped`, why each other name was left out.

Matching modes (`match=`):

* `"slim"` (default), exactly TF-slim (format doc 11.2): every pattern is a **regex** passed to
  `re.match` against the name **with `:0` appended**, as `Graph.get_collection(scope)` does with
  `var.name`. So a scope is a string **prefix**, not a path: `vgg_16/fc8` also matches
  `vgg_16/fc8_new/...`, and `.` or `+` are regex operators. (The command line's
  `--include`/`--exclude` also match the plain name, so that `'.*/adam_m$'` works there.)
  `suffix="s"` matches `scope + ".*" + "s:"`; `name="n"` matches `scope + ".*/n:|^n:"` (so,
  as in slim, a top-level `n` matches whatever the scope).
* `"path"`: literal strings over whole path components. `scope="vgg_16/fc8"` matches
  `vgg_16/fc8` and `vgg_16/fc8/...` only; `suffix="fc8/weights"` matches names ending with
  those components; `name` matches the last component.
* `"search"`: `re.search` instead of `re.match`, and names keep their input order (slim's
  `filter_variables` with its default `reg_search=True`).

`include` is a list or tuple of scopes (a bare string raises TypeError, as slim does, so
`include="logits"` cannot silently mean five one-letter scopes). The result is the
concatenation, in that order, of the names matching each include scope (all names if None;
in "search" mode the names matching any, in input order),
without repeats (slim would repeat a variable that two include scopes match), restricted by
`scope`/`suffix`/`name`, minus every name matching an `exclude` scope, minus the `drop` presets.

Presets (`drop=`; `PRESETS` describes them; on a `NameView` they also look at the real key):
`global_step`; `optimizer` (TF1 slots `<var>/Momentum`, `Adam`, `Adam_1`, `RMSProp`..., Adam's
`beta1_power`/`beta2_power`, TF2 `.OPTIMIZER_SLOT` keys and the `optimizer/` subtree - except
`optimizer/_trainable_variables/`, which in Keras 3 checkpoints are the model's own weights);
`ema` (`ExponentialMovingAverage` shadows); `object_graph` (`_CHECKPOINTABLE_OBJECT_GRAPH`);
`save_counter`; and `training_state`, all of them.

`slim.get_model_variables()` has no checkpoint of its own to look at; in a checkpoint, its
variables are what remains without the training state: `select(ckpt, drop="training_state")`
(add `scope=`/`suffix=` as `get_model_variables(scope, suffix)` takes them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Callable

from .objgraph import OBJECT_GRAPH_KEY
from .targets import parse_targets

__all__ = ["PRESETS", "Selection", "select"]

_OPTIMIZER_SLOT = re.compile(
    r"(^|/)(Momentum|Adam|Adam_1|RMSProp|RMSProp_1|Adagrad|AdagradDA|Adadelta|Adadelta_1|"
    r"Ftrl|Ftrl_1|ProximalAdagrad|Nadam|Nadam_1|Adamax|Adamax_1|"
    # BERT's AdamWeightDecayOptimizer slots and Adafactor's (T5, mesh-tensorflow)
    r"adam_m|adam_v|Adafactor)(_\d+)?$"
    r"|(^|/)(AdamWeightDecayOptimizer|AdamWeightDecayOptimizer_1|LAMB|LAMB_1)(/|$)"
    r"|_slot_(v|vc|vr|m)$"
    # learning-rate and mixed-precision loss-scale variables
    r"|(^|/)(learning_rate|good_steps|loss_scale|current_loss_scale)$"
)
_EMA = re.compile(r"(^|/)ExponentialMovingAverage(_\d+)?(/|$)")


def _is_optimizer(name: str) -> bool:
    if name.startswith("optimizer/_trainable_variables/"):
        return False  # Keras 3: the model's weights, reached through the optimizer first
    return bool(
        _OPTIMIZER_SLOT.search(name)
        or "/.OPTIMIZER_SLOT/" in name
        or name.startswith("optimizer/")
        or re.search(r"(^|/)beta[12]_power(_\d+)?$", name)
    )


PRESETS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "global_step": (
        "the training step counter `global_step` (any scope)",
        lambda n: n == "global_step" or n.endswith("/global_step"),
    ),
    "optimizer": (
        "optimizer state: TF1 slots (<var>/Momentum, Adam, Adam_1, RMSProp...), "
        "beta1_power/beta2_power, TF2 .OPTIMIZER_SLOT keys, the optimizer/ subtree",
        _is_optimizer,
    ),
    "ema": ("ExponentialMovingAverage shadow variables", lambda n: bool(_EMA.search(n))),
    "object_graph": (
        "the TF2 object graph entry _CHECKPOINTABLE_OBJECT_GRAPH",
        lambda n: n == OBJECT_GRAPH_KEY,
    ),
    "save_counter": (
        "tf.train.Checkpoint's save_counter",
        lambda n: n == "save_counter" or n.startswith("save_counter/"),
    ),
}
"""{preset: (description, predicate on a name)}. `"training_state"` means all of them."""

_ALL_PRESETS = "training_state"


class Selection(list):
    """The selected names, in order (a `list` of str), with the reasons for the others.

    Attributes:
        dropped: {name: why it was not selected}, for every name of the input not selected.
    """

    def __init__(self, names: Iterable[str], dropped: Mapping[str, str]) -> None:
        super().__init__(names)
        self.dropped: dict[str, str] = dict(dropped)

    def explain(self) -> str:
        """A readable account: how many were kept, and each dropped name with its reason."""
        lines = [f"selected {len(self)}, dropped {len(self.dropped)}"]
        width = max((len(n) for n in self.dropped), default=0)
        lines += [f"  - {name:{width}s}  {why}" for name, why in self.dropped.items()]
        return "\n".join(lines)


def _names_of(source: Any) -> tuple[list[str], Callable[[str], str] | None]:
    """Names to select from, and the function giving each name's real key (for views)."""
    if isinstance(source, (str, os.PathLike)):
        from ..reader import open as _open

        with _open(source) as ckpt:
            return list(ckpt.keys()), None
    key = getattr(source, "key", None)
    if hasattr(source, "shapes") and hasattr(source, "keys"):
        return list(source.keys()), key if callable(key) else None
    if isinstance(source, Mapping):
        return [str(name) for name in source], None
    return [t.name for t in parse_targets(source)], None


_OUTPUT = re.compile(r":\d+$")


def _tensor_name(name: str) -> str:
    # slim matches `var.name`, the op name plus ":0".
    return name if _OUTPUT.search(name) else name + ":0"


def _path_prefix(scope: str, name: str) -> bool:
    scope = scope.rstrip("/")
    return not scope or name == scope or name.startswith(scope + "/")


def _path_suffix(suffix: str, name: str) -> bool:
    suffix = suffix.strip("/")
    return name == suffix or name.endswith("/" + suffix)


def _matcher(match: str) -> Callable[[str, str], bool]:
    """(pattern, name) -> bool for include/exclude/scope in one matching mode."""
    if match == "slim":
        return lambda pattern, name: re.match(pattern, _tensor_name(name)) is not None
    if match == "search":
        return lambda pattern, name: re.search(pattern, _tensor_name(name)) is not None
    if match == "path":
        return _path_prefix
    raise ValueError(f"match must be 'slim', 'path' or 'search', not {match!r}")


def _scope_filter(
    match: str, scope: str | None, suffix: str | None, name: str | None
) -> Callable[[str], bool] | None:
    """slim's `get_variables(scope, suffix)` (with `get_variables_by_name`'s suffix)."""
    if suffix is not None and name is not None:
        raise ValueError("give suffix or name, not both")
    if scope is None and suffix is None and name is None:
        return None
    if match == "path":

        def keep(n: str) -> bool:
            if scope is not None and not _path_prefix(scope, n):
                return False
            if suffix is not None and not _path_suffix(suffix, n):
                return False
            return name is None or n.rsplit("/", 1)[-1] == name

        return keep
    pattern = scope
    if name is not None:
        suffix = "/" + name + ":|^" + name + ":"
    if suffix is not None:
        if ":" not in suffix:
            suffix += ":"
        pattern = (scope or "") + ".*" + suffix
    test = _matcher(match)
    return lambda n: test(pattern, n)


def _scopes(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{what} is provided but is not a list or a tuple.")
    return [str(s) for s in value]


def _presets(drop: str | Iterable[str] | None) -> list[str]:
    if drop is None:
        return []
    wanted = [drop] if isinstance(drop, str) else list(drop)
    out: list[str] = []
    for preset in wanted:
        if preset == _ALL_PRESETS:
            out.extend(PRESETS)
        elif preset in PRESETS:
            out.append(preset)
        else:
            known = ", ".join([*PRESETS, _ALL_PRESETS])
            raise ValueError(f"unknown preset {preset!r}; known presets: {known}")
    return list(dict.fromkeys(out))


def dropper(drop: str | Iterable[str]) -> Callable[[str], bool]:
    """A predicate that is true for the names the presets in `drop` remove (see `PRESETS`;
    "training_state" = all of them). Raises ValueError for an unknown preset."""
    tests = [PRESETS[p][1] for p in _presets(drop)]
    return lambda name: any(t(name) for t in tests)


def select(
    names_or_checkpoint: Any,
    *,
    include: list[str] | tuple[str, ...] | None = None,
    exclude: list[str] | tuple[str, ...] | None = None,
    scope: str | None = None,
    suffix: str | None = None,
    name: str | None = None,
    drop: str | Iterable[str] | None = None,
    match: str = "slim",
) -> Selection:
    """Select names from a checkpoint or any list of names, as TF-slim does.

    Args:
        names_or_checkpoint: a `Checkpoint`, a `NameView`, a checkpoint path, a mapping (its
            keys), or a list of names / variables / `(name, shape)` pairs.
        include: list or tuple of scopes to keep (None: all). TypeError otherwise, as slim.
        exclude: list or tuple of scopes to remove. TypeError if not a list or tuple.
        scope: keep only names in this scope (slim `get_variables(scope)`).
        suffix: keep only names ending with this (slim `get_variables_by_suffix`).
        name: keep only variables with this last name (slim `get_variables_by_name`).
        drop: a preset name or list of them (see `PRESETS`; "training_state" = all).
        match: "slim" (regex prefix match on `name:0`), "path" (whole path components) or
            "search" (regex anywhere); see the module docstring.

    Returns:
        a `Selection` (a list of the chosen names, in order) with `.dropped` reasons.
    """
    includes = _scopes(include, "include")
    excludes = _scopes(exclude, "exclude")
    presets = _presets(drop)
    test = _matcher(match)
    keep = _scope_filter(match, scope, suffix, name)
    names, key_of = _names_of(names_or_checkpoint)

    dropped: dict[str, str] = {}
    if includes is None:
        chosen = list(names)
    elif match == "search":  # slim's filter_variables: the input order, any include matching
        chosen = [n for n in names if any(test(p, n) for p in includes)]
    else:  # slim's get_variables_to_restore: one include scope after the other
        chosen = []
        for pattern in includes:
            chosen += [n for n in names if test(pattern, n)]
        chosen = list(dict.fromkeys(chosen))
    if includes is not None:
        picked = set(chosen)
        dropped.update(
            (n, f"matches no include scope {includes}") for n in names if n not in picked
        )
    result = []
    for n in chosen:
        why = None
        if keep is not None and not keep(n):
            why = "outside " + ", ".join(
                f"{label}={value!r}"
                for label, value in (("scope", scope), ("suffix", suffix), ("name", name))
                if value is not None
            )
        elif excludes:
            hit = next((p for p in excludes if test(p, n)), None)
            if hit is not None:
                why = f"exclude {hit!r}"
        if why is None and presets:
            candidates = [n] if key_of is None else [n, key_of(n)]
            hit = next((p for p in presets if any(PRESETS[p][1](c) for c in candidates)), None)
            if hit is not None:
                why = f"preset {hit!r}"
        if why is None:
            result.append(n)
        else:
            dropped[n] = why
    return Selection(result, dropped)
