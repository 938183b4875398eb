"""Recipes: TF checkpoints of the original releases straight to Hugging Face transformers names.

    import ckptio.recipes
    ckptio.recipes.convert("uncased_L-12_H-768_A-12/bert_model.ckpt", "out/model.safetensors",
                           recipe="hf-bert")    # also out/config.json, from bert_config.json
    BertForPreTraining.from_pretrained("out")

    ckptio convert bert_model.ckpt out/model.safetensors --recipe hf-bert

A recipe is data, not code: ordered regex renames (``re.sub`` on the TF name, the last one
usually ``/`` -> ``.``), layout rules (the first regex matching the TF name gives its steps:
``transpose`` reverses the axes like ``np.transpose``, ``squeeze`` drops size-1 axes like
``np.squeeze``), what to drop (optimizer slots, step counters, parts the model class does not
hold) and the weights the model ties to others (left out of the file, as ``save_pretrained``
does; ``from_pretrained`` re-ties them). It is strict: a rename or layout rule that matches no
tensor is a `RecipeError` before anything is written; so is a name that comes out outside the
model's key grammar (``targets``: a tensor no rule covered). Rules may be marked optional for
parts some releases do not have.

The same pieces work on their own (CLI: ``--map-re 'layer_(\\d+)/=layer.\\1.'``,
``--drop training-state``, ``--layout-rule 'kernel$=transpose'``; API: ``map_re=``,
``drop="training_state"``, ``layout_rules=`` of `convert`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import RecipeError
from ..restore.selection import dropper

__all__ = [
    "RECIPES",
    "TRAINING_STATE",
    "Recipe",
    "RecipeLayout",
    "convert",
    "plan",
    "write_config",
]

TRAINING_STATE = "training_state"
"""In a recipe's `drop`: everything `ckptio.select(drop="training_state")` drops (optimizer
slots, step counters, learning-rate and loss-scale variables); other entries are regexes."""


@dataclass(frozen=True)
class ConfigRule:
    """How the release's own config file becomes a transformers ``config.json``."""

    file: str  # next to the checkpoint, e.g. "bert_config.json"
    model_type: str
    keys: Mapping[str, str] = field(default_factory=dict)  # original name -> transformers name


@dataclass(frozen=True)
class Recipe:
    """Name and layout rules from one TF release to one transformers model class."""

    name: str
    model: str = ""  # the transformers class whose state_dict names are produced
    renames: Sequence[tuple[str, str]] = ()
    layouts: Sequence[tuple[str, Sequence[str]]] = ()
    drop: Sequence[str] = ()
    optional: frozenset[str] = frozenset()  # rename/layout patterns allowed to match nothing
    tied: Sequence[str] = ()  # model keys tied to others: not written (from_pretrained re-ties)
    config: ConfigRule | None = None
    targets: str | None = None  # regex every produced name must match (None: no check)


_LAYERNORM = [(r"/gamma$", "/weight"), (r"/beta$", "/bias"), (r"/kernel$", "/weight")]
_EMBEDDINGS = [(r"_embeddings$", "_embeddings/weight")]
_DOTS = [(r"/", ".")]
_KERNELS_T = [(r"/kernel$", ("transpose",))]


def _bert_family(renames: Sequence[tuple[str, str]], **fields: Any) -> Recipe:
    """A recipe for BERT or a model built on it: its own renames first, then the LayerNorm,
    embedding and scope-to-dot rules they all share; every kernel transposed."""
    return Recipe(
        renames=[*renames, *_LAYERNORM, *_EMBEDDINGS, *_DOTS], layouts=_KERNELS_T, **fields
    )


BERT = _bert_family(
    name="hf-bert",
    model="BertForPreTraining",
    drop=(TRAINING_STATE,),
    renames=[
        (r"/layer_(\d+)/", r"/layer/\1/"),
        (r"^cls/predictions/output_bias$", "cls/predictions/bias"),
        (r"^cls/seq_relationship/output_(weights|bias)$", r"cls/seq_relationship/output_\1"),
        (r"/output_weights$", "/weight"),
        (r"/output_bias$", "/bias"),
    ],
    optional=frozenset({r"^cls/predictions/output_bias$", r"/output_weights$", r"/output_bias$"}),
    tied=("cls.predictions.decoder.weight", "cls.predictions.decoder.bias"),
    config=ConfigRule("bert_config.json", "bert"),
    targets=r"(bert|cls)\.[\w.]+\.(weight|bias)",
)

GPT2 = Recipe(
    name="hf-gpt2",
    model="GPT2Model",
    drop=(TRAINING_STATE,),
    renames=[
        (r"^model/", ""),
        (r"^h(\d+)/", r"h/\1/"),
        (r"/(w|g)$", "/weight"),
        (r"/b$", "/bias"),
        (r"^(wte|wpe)$", r"\1/weight"),
        *_DOTS,
    ],
    layouts=[(r".", ("squeeze",))],  # Conv1D weights are [1, in, out] in TF, [in, out] in HF
    config=ConfigRule(
        "hparams.json",
        "gpt2",
        {
            "n_vocab": "vocab_size",
            "n_ctx": "n_positions",
            "n_embd": "n_embd",
            "n_head": "n_head",
            "n_layer": "n_layer",
        },
    ),
    targets=r"(wte|wpe|ln_f|h\.\d+\.\w+(\.\w+)?)\.(weight|bias)",
)

T5 = Recipe(
    name="hf-t5",
    model="T5ForConditionalGeneration",
    drop=(TRAINING_STATE,),
    renames=[
        (r"^shared/embedding$", "shared/weight"),
        (r"^decoder/logits/kernel$", "lm_head/weight"),  # T5 v1.1: untied output layer
        (r"/block_0*(\d+)/", r"/block/\1/"),
        (r"/layer_0*(\d+)/", r"/layer/\1/"),
        (r"/(q|k|v|o|relative_attention_bias)$", r"/\1/weight"),
        (r"/(wi|wo|wi_0|wi_1)/kernel$", r"/\1/weight"),
        (r"/scale$", "/weight"),
        *_DOTS,
    ],
    # Every weight but the embedding is stored [in, out] (relative_attention_bias [heads,
    # buckets]): transposed, as transformers' loader does (a no-op on 1-D scales).
    layouts=[(r"^(?!shared/embedding$)", ("transpose",))],
    optional=frozenset({r"^decoder/logits/kernel$"}),
    tied=("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"),
    targets=r"(shared|lm_head|(encoder|decoder)\.(final_layer_norm|block\.\d+\.layer\.\d+\.\w+(\.\w+)?))\.weight",
)

ALBERT = _bert_family(
    name="hf-albert",
    model="AlbertForPreTraining",
    drop=(TRAINING_STATE,),
    renames=[
        (r"^module/", ""),  # TF-Hub exports
        (r"^bert/", "albert/"),
        (
            r"/transformer/group_(\d+)/inner_group_(\d+)/",
            r"/albert_layer_groups/\1/albert_layers/\2/",
        ),
        (r"/attention_1/self/", "/attention/"),
        (r"/attention_1/output/dense/", "/attention/dense/"),
        (r"(albert_layers/\d+)/LayerNorm/", r"\1/attention/LayerNorm/"),
        (r"/LayerNorm_1/", "/full_layer_layer_norm/"),
        (r"/ffn_1/intermediate/dense/", "/ffn/"),
        (r"/ffn_1/intermediate/output/dense/", "/ffn_output/"),
        (r"/pooler/dense/", "/pooler/"),
        (r"^cls/predictions/transform/", "predictions/"),
        (r"^cls/predictions/output_bias$", "predictions/bias"),
        (r"^cls/seq_relationship/output_weights$", "sop_classifier/classifier/weight"),
        (r"^cls/seq_relationship/output_bias$", "sop_classifier/classifier/bias"),
    ],
    optional=frozenset(
        {
            r"^module/",
            r"^cls/predictions/transform/",
            r"^cls/predictions/output_bias$",
            r"^cls/seq_relationship/output_weights$",
            r"^cls/seq_relationship/output_bias$",
        }
    ),
    tied=("predictions.decoder.weight", "predictions.decoder.bias"),
    config=ConfigRule("albert_config.json", "albert"),
    targets=r"(albert|predictions|sop_classifier)\.([\w.]+\.)?(weight|bias)",
)

ELECTRA = _bert_family(
    name="hf-electra",
    model="ElectraForPreTraining",
    # The generator trained alongside is not part of the discriminator model.
    drop=(TRAINING_STATE, r"^generator(_predictions)?/"),
    renames=[
        (r"/layer_(\d+)/", r"/layer/\1/"),
        (r"/dense_1/", "/dense_prediction/"),
    ],
    targets=r"(electra|discriminator_predictions)\.[\w.]+\.(weight|bias)",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (BERT, GPT2, T5, ALBERT, ELECTRA)}
"""The built-in recipes, by name."""


# --------------------------------------------------------------------------- layout steps


def _squeeze(array: np.ndarray) -> np.ndarray:
    return np.squeeze(array)


def _transpose(array: np.ndarray) -> np.ndarray:
    return np.transpose(array)


_STEPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "transpose": _transpose,
    "squeeze": _squeeze,
}


@dataclass(frozen=True)
class _Step:
    name: str

    def apply(self, array: np.ndarray) -> np.ndarray:
        return _STEPS[self.name](array)

    def __str__(self) -> str:
        return self.name


class RecipeLayout:
    """A recipe as a layout object of `ckptio.convert` (``layout=``): `rename` applies the
    renames, `transforms` gives the steps of the first matching layout rule."""

    def __init__(self, recipe: Recipe) -> None:
        for _, steps in recipe.layouts:
            for step in steps:
                if step not in _STEPS:
                    raise ValueError(f"unknown layout step {step!r} (known: {sorted(_STEPS)})")
        self.recipe = recipe
        self._renames = [(re.compile(p), r) for p, r in recipe.renames]
        self._layouts = [
            (re.compile(p), tuple(_Step(s) for s in steps)) for p, steps in recipe.layouts
        ]

    def rename(self, source: str) -> str:
        for pattern, replacement in self._renames:
            source = pattern.sub(replacement, source)
        return source

    def transforms(self, source: str, shape: Sequence[int] = ()) -> tuple[_Step, ...]:
        for pattern, steps in self._layouts:
            if pattern.search(source):
                return steps
        return ()


def _dropper(patterns: Iterable[str]) -> Callable[[str], bool]:
    patterns = list(patterns)
    presets = dropper(TRAINING_STATE) if TRAINING_STATE in patterns else (lambda name: False)
    compiled = [re.compile(p) for p in patterns if p != TRAINING_STATE]
    return lambda name: presets(name) or any(p.search(name) for p in compiled)


def plan(recipe: Recipe, names: Iterable[str], file: str | None = None) -> dict[str, str]:
    """{TF name: target name} for the tensors `recipe` keeps out of `names`, checked: every
    rename and layout rule (not marked optional) must match a kept tensor, and every kept
    tensor must come out with a complete name (no ``/`` left). Raises RecipeError."""
    dropped = _dropper(recipe.drop)
    kept = [n for n in names if not dropped(n) and n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    layout = RecipeLayout(recipe)
    # Each rename is checked against the names as the renames before it left them.
    current = {n: n for n in kept}
    unused = []
    for pattern, replacement in recipe.renames:
        compiled, hit = re.compile(pattern), False
        for source, name in current.items():
            renamed, count = compiled.subn(replacement, name)
            if count:
                hit, current[source] = True, renamed
        if not hit and pattern not in recipe.optional:
            unused.append(pattern)
    for pattern, _ in recipe.layouts:
        if pattern not in recipe.optional and not any(re.search(pattern, n) for n in kept):
            unused.append(pattern)
    if unused:
        raise RecipeError(
            f"recipe {recipe.name!r}: rule(s) {', '.join(map(repr, unused))} match no tensor: "
            "is this the checkpoint the recipe is for?",
            file=file,
        )
    targets = {n: layout.rename(n) for n in kept}
    grammar = re.compile(recipe.targets) if recipe.targets is not None else None
    uncovered = [n for n, t in targets.items() if grammar and not grammar.fullmatch(t)]
    if uncovered:
        listed = ", ".join(map(repr, uncovered[:5])) + (" ..." if len(uncovered) > 5 else "")
        raise RecipeError(
            f"recipe {recipe.name!r} has no rule for {len(uncovered)} tensor(s): {listed}; "
            "drop them (select) or add a rule",
            file=file,
            key=uncovered[0],
        )
    return targets


def custom_recipe(
    map_re: Iterable[str | tuple[str, str]] = (),
    drop: str | Iterable[str] | None = None,
    layout_rules: Iterable[str | tuple[str, Sequence[str]]] = (),
    base: Recipe | None = None,
) -> Recipe:
    """A recipe from the general tools, on top of `base` (whose rules come after them):
    `map_re` as ``"PATTERN=REPLACEMENT"`` strings or pairs, `drop` a name of a drop set
    (``"training_state"``) or regexes, `layout_rules` ``"PATTERN=step,step"`` or pairs."""
    renames = [_pair(m, "--map-re") for m in map_re]
    layouts = [
        (p, tuple(s.split(",")) if isinstance(s, str) else tuple(s))
        for p, s in (_pair(r, "--layout-rule") for r in layout_rules)
    ]
    drops: list[str] = []
    if isinstance(drop, str):
        key = drop.replace("-", "_")
        if key != TRAINING_STATE:
            raise ValueError(f"unknown drop set {drop!r} (known: {TRAINING_STATE})")
        drops = [TRAINING_STATE]
    elif drop is not None:
        drops = list(drop)
    if base is None:
        return Recipe(name="custom", renames=renames, layouts=layouts, drop=drops)
    return dataclasses.replace(
        base,
        renames=[*renames, *base.renames],
        layouts=[*layouts, *base.layouts],
        drop=[*drops, *base.drop],
    )


def _pair(value: Any, what: str) -> tuple[str, Any]:
    if isinstance(value, str):
        if "=" not in value:
            raise ValueError(f"{what} wants PATTERN=VALUE, got {value!r}")
        pattern, _, replacement = value.partition("=")
        re.compile(pattern)
        return pattern, replacement
    pattern, replacement = value
    re.compile(pattern)
    return pattern, replacement


def resolve(recipe: str | Recipe | None) -> Recipe | None:
    if recipe is None or isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (known: {', '.join(RECIPES)})")
    return RECIPES[recipe]


def convert_options(recipe: Recipe, ckpt: Any, select: Any = None) -> dict[str, Any]:
    """The `ckptio.convert` options carrying out `recipe` on `ckpt` (checked with `plan`):
    ``select`` (what it keeps, within `select`) and ``layout``."""
    names = list(ckpt)
    if select is not None:
        keep = select if callable(select) else set(select).__contains__
        names = [n for n in names if keep(n)]
    targets = plan(recipe, names, file=getattr(ckpt, "path", None))
    return {"select": set(targets), "layout": RecipeLayout(recipe)}


def write_config(
    recipe: Recipe, checkpoint: str, output: str, overwrite: bool = False
) -> str | None:
    """Write ``config.json`` next to `output` from the release's config file found next to
    `checkpoint` (a prefix or directory). Returns its path, or None when there is none."""
    if recipe.config is None:
        return None
    checkpoint = os.fspath(checkpoint)
    directory = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
    source = os.path.join(directory, recipe.config.file)
    if not os.path.isfile(source):
        return None
    with open(source, encoding="utf-8") as f:
        original = json.load(f)
    keys = recipe.config.keys
    values = {keys[k]: v for k, v in original.items() if k in keys} if keys else dict(original)
    config = {"architectures": [recipe.model], "model_type": recipe.config.model_type, **values}
    target = os.path.join(os.path.dirname(os.path.abspath(os.fspath(output))), "config.json")
    if os.path.exists(target) and not overwrite:
        raise RecipeError(
            "config.json exists already: pass overwrite=True (--overwrite)", file=target
        )
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(target + ".tmp", target)
    return target


def convert(
    src: Any,
    path: str | os.PathLike[str],
    recipe: str | Recipe | None = None,
    *,
    map_re: Iterable[str | tuple[str, str]] = (),
    drop: str | Iterable[str] | None = None,
    layout_rules: Iterable[str | tuple[str, Sequence[str]]] = (),
    config: bool = True,
    **options: Any,
) -> Any:
    """Convert `src` (a checkpoint path or open `Checkpoint`) into `path` under `recipe`
    (a name of `RECIPES` or a `Recipe`) and/or the general tools (`custom_recipe`). Other
    `options` go to `ckptio.convert.convert` (``verify``, ``overwrite``, ``progress``, ``to``).
    Safetensors files get ``{"format": "pt"}`` metadata; with `config`, a ``config.json`` is
    written next to `path` when the release's config file is next to the checkpoint."""
    from ..reader import opened as _opened
    from .formats import convert as convert_file

    chosen = custom_recipe(map_re, drop, layout_rules, base=resolve(recipe))
    with _opened(src) as ckpt:
        options.update(convert_options(chosen, ckpt, options.pop("select", None)))
        if os.fspath(path).endswith(".safetensors") and options.get("to") in (None, "safetensors"):
            options.setdefault("metadata", {"format": "pt"})
        report = convert_file(ckpt, path, **options)
        if config and isinstance(src, (str, os.PathLike)):
            write_config(chosen, os.fspath(src), os.fspath(path), options.get("overwrite", False))
    return report
