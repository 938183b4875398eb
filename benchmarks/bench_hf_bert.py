# ruff: noqa: E501  (the TensorFlow snippet run in a subprocess is kept compact)
"""BERT-base (110M parameters) TF checkpoint -> PyTorch, whole-process times, in one run:

1. real TensorFlow + transformers' `load_tf_weights_in_bert` (then `torch.save`, as
   transformers' conversion script does);
2. the same script under ckptio's stand-in (`python -m ckptio.tfshim --force`);
3. `ckptio convert CKPT OUT.safetensors --recipe hf-bert`.

The checkpoint is made with TensorFlow under the original google-research/bert variable names,
random values, in a temporary directory (removed afterwards). Needs tensorflow, torch and
transformers<5. Run: PYTHONPATH=python python benchmarks/bench_hf_bert.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "type_vocab_size": 2,
    "vocab_size": 30522,
}

MAKE = """
import sys, numpy as np, tensorflow as tf
H, I, V, P = 768, 3072, 30522, 512
shapes = {"bert/embeddings/word_embeddings": (V, H), "bert/embeddings/token_type_embeddings": (2, H),
          "bert/embeddings/position_embeddings": (P, H), "bert/embeddings/LayerNorm/gamma": (H,),
          "bert/embeddings/LayerNorm/beta": (H,)}
for i in range(12):
    p = f"bert/encoder/layer_{i}"
    for part in ("query", "key", "value"):
        shapes[f"{p}/attention/self/{part}/kernel"] = (H, H); shapes[f"{p}/attention/self/{part}/bias"] = (H,)
    shapes.update({f"{p}/attention/output/dense/kernel": (H, H), f"{p}/attention/output/dense/bias": (H,),
        f"{p}/attention/output/LayerNorm/gamma": (H,), f"{p}/attention/output/LayerNorm/beta": (H,),
        f"{p}/intermediate/dense/kernel": (H, I), f"{p}/intermediate/dense/bias": (I,),
        f"{p}/output/dense/kernel": (I, H), f"{p}/output/dense/bias": (H,),
        f"{p}/output/LayerNorm/gamma": (H,), f"{p}/output/LayerNorm/beta": (H,)})
shapes.update({"bert/pooler/dense/kernel": (H, H), "bert/pooler/dense/bias": (H,),
    "cls/predictions/transform/dense/kernel": (H, H), "cls/predictions/transform/dense/bias": (H,),
    "cls/predictions/transform/LayerNorm/gamma": (H,), "cls/predictions/transform/LayerNorm/beta": (H,),
    "cls/predictions/output_bias": (V,), "cls/seq_relationship/output_weights": (2, H),
    "cls/seq_relationship/output_bias": (2,)})
rng = np.random.default_rng(0)
tensors = {n: tf.constant(rng.standard_normal(s, dtype=np.float32)) for n, s in shapes.items()}
tensors["global_step"] = tf.constant(np.int64(1000000))
names = list(tensors)
tf.raw_ops.SaveV2(prefix=sys.argv[1], tensor_names=names, shape_and_slices=[""] * len(names),
                  tensors=[tensors[n] for n in names])
print(sum(int(np.prod(s)) for s in shapes.values()))
"""

CONVERT = """
import sys, torch
from transformers import BertConfig, BertForPreTraining, load_tf_weights_in_bert
config = BertConfig.from_json_file(sys.argv[2])
model = BertForPreTraining(config)
load_tf_weights_in_bert(model, config, sys.argv[1])
torch.save(model.state_dict(), sys.argv[3])
"""


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory(prefix="bert_base_") as tmp:
        directory = Path(tmp)
        prefix = str(directory / "bert_model.ckpt")
        (directory / "bert_config.json").write_text(json.dumps(CONFIG))
        made = subprocess.run(
            [sys.executable, "-c", MAKE, prefix], check=True, env=env, capture_output=True
        )
        print(f"BERT-base checkpoint: {int(made.stdout.split()[-1]) / 1e6:.1f}M parameters")
        script = directory / "convert_bert.py"
        script.write_text(CONVERT)
        config = str(directory / "bert_config.json")
        out = directory / "out"
        out.mkdir()
        runs = {
            "real TF + transformers loader": [
                sys.executable, str(script), prefix, config, str(out / "a.bin"),
            ],
            "ckptio.tfshim + transformers loader": [
                sys.executable, "-m", "ckptio.tfshim", "--force", str(script), prefix, config,
                str(out / "b.bin"),
            ],
            "ckptio convert --recipe hf-bert": [
                sys.executable, "-m", "ckptio", "convert", prefix, str(out / "model.safetensors"),
                "--recipe", "hf-bert",
            ],
        }  # fmt: skip
        times = {name: timed(argv, env) for name, argv in runs.items()}
    base = times["real TF + transformers loader"]
    for name, seconds in times.items():
        print(f"{name:38s} {seconds:6.2f} s   (real TF / this: {base / seconds:4.2f}x)")


if __name__ == "__main__":
    main()
