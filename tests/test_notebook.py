"""Notebook and safetensors-style conveniences: HTML tables, key completion, reprs, identity
equality, get_dtype, framework="pt"."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import ckptio
import ml_dtypes
import numpy as np
import pytest
from ckptio.reader import HTML_MAX_ROWS

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "data" / "tiny_convnet"
VGG = ROOT / "examples" / "data" / "vgg_16" / "vgg_16.ckpt"


class Table(HTMLParser):
    """Cells of every table row, and the text of the captions."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.captions: list[str] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.tags: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._caption = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "caption" and self._caption is not None:
            self.captions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data):
        for part in (self._cell, self._caption):
            if part is not None:
                part.append(data)


def test_checkpoint_equality_and_hash_are_identity():
    a, b = ckptio.open(TINY), ckptio.open(TINY)
    assert a == a and a != b and not (a == b)  # no ValueError from comparing arrays
    assert len({a, b, a}) == 2
    assert {a: 1}[a] == 1
    assert a != dict(a)


def test_key_completions_are_the_names():
    with ckptio.open(TINY) as ckpt:
        assert ckpt._ipython_key_completions_() == list(ckpt)
    assert ckpt._ipython_key_completions_() == []  # closed


def test_checkpoint_html_table():
    with ckptio.open(TINY) as ckpt:
        table = Table(ckpt._repr_html_())
        summary = ckpt.summary()
    assert table.rows[0] == ["name", "dtype", "shape", "size"]
    assert [r[0] for r in table.rows[1:]] == [name for name, *_ in summary]
    emb = next(r for r in table.rows if r[0] == "convnet/embedding")
    assert emb[1:3] == ["float32", "[20, 4]"]
    assert "9 tensors" in table.captions[0] and "V2" in table.captions[0]
    assert "closed" in ckpt._repr_html_()


def test_html_escapes_names_and_truncates_long_listings(tmp_path):
    hostile = "<script>alert('x')</script>&\"q\""
    tensors = {f"layer_{i:03d}/w": np.zeros(i % 3 + 1, np.float32) for i in range(150)}
    tensors[hostile] = np.ones(2, ml_dtypes.bfloat16)
    tensors["x" * 500] = np.zeros((), np.int64)
    ckptio.save(tmp_path / "many", tensors)
    with ckptio.open(tmp_path / "many") as ckpt:
        html = ckpt._repr_html_()
        info_html = ckpt.info(hostile)._repr_html_()
    assert "<script>" not in html and "<script>" not in info_html
    table = Table(html)
    body = table.rows[1:]
    assert len(body) == HTML_MAX_ROWS + 1  # the first and last halves and one row saying so
    assert body[HTML_MAX_ROWS // 2][0] == f"\u2026 {152 - HTML_MAX_ROWS:,} more \u2026"
    assert body[0][0] == hostile  # escaped in the markup, the name itself once parsed
    long = next(r[0] for r in body if r[0].startswith("xxx"))
    assert len(long) < 130 and "\u2026" in long
    assert "152 tensors" in table.captions[0]
    info = dict(Table(info_html).rows)
    assert info["name"] == hostile and info["dtype"] == "bfloat16" and info["shape"] == "[2]"


def test_tensor_info_html():
    with ckptio.open(TINY) as ckpt:
        info = dict(Table(ckpt.info("convnet/conv1/weights")._repr_html_()).rows)
    assert info["shape"] == "[3, 3, 3, 8]" and info["elements"] == "216"
    assert info["location"].startswith("shard 0, offset ")


def test_tensor_slice_repr_and_safetensors_accessors():
    with ckptio.open(TINY) as ckpt:
        s = ckpt.get_slice("convnet/conv1/weights")
        assert repr(s) == "<ckptio.TensorSlice 'convnet/conv1/weights' float32 [3, 3, 3, 8]>"
        assert s.get_dtype() == "F32" and s.get_shape() == [3, 3, 3, 8]
        assert ckpt.get_slice("global_step").get_dtype() == "I64"
        assert "partitioned" in repr(ckpt.get_slice("convnet/embedding"))
        assert ckpt.get_dtype("convnet/embedding") == np.float32
        assert ckpt.get_dtype("global_step") == np.int64
        with pytest.raises(ckptio.NotFoundError):
            ckpt.get_dtype("nope")


def test_restore_plan_repr_and_html():
    model = {
        "my/vgg_16/conv1/conv1_1/weights": (3, 3, 3, 4),
        "my/vgg_16/fc6/weights": (196, 16),
        "my/cls_score/weights": (16, 3),
        "global_step": ((), "int64"),
    }
    keep = ckptio.select(model, exclude=["global_step"])
    plan = ckptio.plan_restore(
        VGG, model, only=keep, target_prefix="my/", reshape=True, ignore_missing=True
    )
    assert repr(plan) == (
        f"<ckptio.RestorePlan from {str(VGG)!r}: 2 tensors, OK, 1 missing, 1 not restored, "
        f"{len(plan.unused)} unused>"
    )
    table = Table(plan._repr_html_())
    assert table.rows[0] == ["target", "", "source", "shape", "dtype", "transforms"]
    fc6 = next(r for r in table.rows if r[0] == "my/vgg_16/fc6/weights")
    assert fc6[1:5] == ["\u2190", "vgg_16/fc6/weights", "[7,7,4,16] \u2192 [196,16]", "float32"]
    assert [c.split(":")[0] for c in table.captions] == [
        table.captions[0].split(":")[0],
        "Missing in the checkpoint (ignored)",
        "Targets not restored (left as they are)",
        "Checkpoint tensors not used",
    ]
    assert ["my/cls_score/weights", "cls_score/weights"] in table.rows


def test_framework_pt_returns_torch_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    values = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b16": np.arange(6, dtype=np.float32).astype(ml_dtypes.bfloat16),
    }
    ckptio.save(tmp_path / "m", values)
    with ckptio.open(tmp_path / "m", framework="pt") as ckpt:
        assert ckpt.framework == "pt"
        w = ckpt["w"]
        assert isinstance(w, torch.Tensor) and w.dtype == torch.float32
        assert torch.equal(w, torch.arange(12, dtype=torch.float32).reshape(3, 4))
        b16 = ckpt.get_tensor("b16")
        assert b16.dtype == torch.bfloat16
        assert b16.float().tolist() == [0, 1, 2, 3, 4, 5]
        rows = ckpt.get_slice("w")[1:]
        assert isinstance(rows, torch.Tensor) and rows.tolist() == values["w"][1:].tolist()
        copy = ckpt.get_tensor("w", copy=True)
        copy += 1  # a writable copy
        assert ckpt["w"][0, 0].item() == 0
    with ckptio.open(TINY, framework="pt") as ckpt:  # partitioned: assembled, then converted
        assert tuple(ckpt["convnet/embedding"].shape) == (20, 4)
    with pytest.raises(ValueError, match="framework"):
        ckptio.open(TINY, framework="tf")
