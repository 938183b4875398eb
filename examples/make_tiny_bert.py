"""Regenerate the tiny BERT release in examples/data/tiny_bert/ (no TensorFlow needed).

The layout of Google's original BERT releases (google-research/bert), shrunk to a few KB:
`bert_model.ckpt` under the original variable names (`bert/encoder/layer_0/attention/self/
query/kernel`, `cls/predictions/...`), with the AdamWeightDecayOptimizer slots (`.../adam_m`,
`.../adam_v`) and `global_step` a pretraining run saves, next to a matching `bert_config.json`.
2 layers, hidden size 8, 2 heads, vocabulary of 30; values are seeded, so the files are the
same on every run (and byte-identical to TensorFlow's SaveV2 of the same tensors).

    python examples/make_tiny_bert.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ckptio
import numpy as np

CONFIG = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 8,
    "initializer_range": 0.02,
    "intermediate_size": 16,
    "max_position_embeddings": 16,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "type_vocab_size": 2,
    "vocab_size": 30,
}


def shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every weight of BertForPreTraining's original TF graph, by its variable name."""
    h, i, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    out: dict[str, tuple[int, ...]] = {
        "bert/embeddings/word_embeddings": (v, h),
        "bert/embeddings/token_type_embeddings": (config["type_vocab_size"], h),
        "bert/embeddings/position_embeddings": (config["max_position_embeddings"], h),
        "bert/embeddings/LayerNorm/gamma": (h,),
        "bert/embeddings/LayerNorm/beta": (h,),
    }
    for n in range(config["num_hidden_layers"]):
        layer = f"bert/encoder/layer_{n}"
        for part in ("query", "key", "value"):
            out[f"{layer}/attention/self/{part}/kernel"] = (h, h)
            out[f"{layer}/attention/self/{part}/bias"] = (h,)
        out[f"{layer}/attention/output/dense/kernel"] = (h, h)
        out[f"{layer}/attention/output/dense/bias"] = (h,)
        out[f"{layer}/attention/output/LayerNorm/gamma"] = (h,)
        out[f"{layer}/attention/output/LayerNorm/beta"] = (h,)
        out[f"{layer}/intermediate/dense/kernel"] = (h, i)
        out[f"{layer}/intermediate/dense/bias"] = (i,)
        out[f"{layer}/output/dense/kernel"] = (i, h)
        out[f"{layer}/output/dense/bias"] = (h,)
        out[f"{layer}/output/LayerNorm/gamma"] = (h,)
        out[f"{layer}/output/LayerNorm/beta"] = (h,)
    out.update(
        {
            "bert/pooler/dense/kernel": (h, h),
            "bert/pooler/dense/bias": (h,),
            "cls/predictions/transform/dense/kernel": (h, h),
            "cls/predictions/transform/dense/bias": (h,),
            "cls/predictions/transform/LayerNorm/gamma": (h,),
            "cls/predictions/transform/LayerNorm/beta": (h,),
            "cls/predictions/output_bias": (v,),  # the decoder weight is the word embeddings
            "cls/seq_relationship/output_weights": (2, h),
            "cls/seq_relationship/output_bias": (2,),
        }
    )
    return out


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "tiny_bert"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {}
    for name, shape in shapes(CONFIG).items():
        tensors[name] = rng.normal(0, CONFIG["initializer_range"], shape).astype(np.float32)
        # Adam's first and second moments; the second is never negative.
        tensors[f"{name}/adam_m"] = rng.normal(0, 1e-3, shape).astype(np.float32)
        tensors[f"{name}/adam_v"] = np.abs(rng.normal(0, 1e-6, shape)).astype(np.float32)
    tensors["global_step"] = np.int64(1000)
    ckptio.save(out / "bert_model.ckpt", tensors)
    (out / "bert_config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    print("wrote", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
