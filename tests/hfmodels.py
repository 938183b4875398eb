"""Tiny checkpoints under the variable names of the original TF releases (test-only).

BERT (google-research/bert, with Adam slots), GPT-2 (openai/gpt-2), T5 (mesh-tensorflow,
bfloat16 weights with Adafactor slots), ALBERT (google-research/albert), ELECTRA
(google-research/electra, discriminator plus generator) and GPT-Neo (EleutherAI, mesh-tf),
written by real TensorFlow (``tf.raw_ops.SaveV2``) with random values. Each entry also says
which transformers loader reads it, into which model class, with which (tiny) config.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

V, P, H, E, I = 30, 16, 8, 4, 16  # noqa: E741 (vocab, positions, hidden, embedding, intermediate)


def _bert_layer(prefix: str) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}
    for part in ("query", "key", "value"):
        shapes[f"{prefix}/attention/self/{part}/kernel"] = (H, H)
        shapes[f"{prefix}/attention/self/{part}/bias"] = (H,)
    shapes[f"{prefix}/attention/output/dense/kernel"] = (H, H)
    shapes[f"{prefix}/attention/output/dense/bias"] = (H,)
    shapes[f"{prefix}/attention/output/LayerNorm/gamma"] = (H,)
    shapes[f"{prefix}/attention/output/LayerNorm/beta"] = (H,)
    shapes[f"{prefix}/intermediate/dense/kernel"] = (H, I)
    shapes[f"{prefix}/intermediate/dense/bias"] = (I,)
    shapes[f"{prefix}/output/dense/kernel"] = (I, H)
    shapes[f"{prefix}/output/dense/bias"] = (H,)
    shapes[f"{prefix}/output/LayerNorm/gamma"] = (H,)
    shapes[f"{prefix}/output/LayerNorm/beta"] = (H,)
    return shapes


def _embeddings(prefix: str, width: int) -> dict[str, tuple]:
    return {
        f"{prefix}/word_embeddings": (V, width),
        f"{prefix}/token_type_embeddings": (2, width),
        f"{prefix}/position_embeddings": (P, width),
        f"{prefix}/LayerNorm/gamma": (width,),
        f"{prefix}/LayerNorm/beta": (width,),
    }


def bert() -> dict[str, tuple]:
    shapes = _embeddings("bert/embeddings", H)
    for i in range(2):
        shapes.update(_bert_layer(f"bert/encoder/layer_{i}"))
    shapes.update(
        {
            "bert/pooler/dense/kernel": (H, H),
            "bert/pooler/dense/bias": (H,),
            "cls/predictions/transform/dense/kernel": (H, H),
            "cls/predictions/transform/dense/bias": (H,),
            "cls/predictions/transform/LayerNorm/gamma": (H,),
            "cls/predictions/transform/LayerNorm/beta": (H,),
            "cls/predictions/output_bias": (V,),
            "cls/seq_relationship/output_weights": (2, H),
            "cls/seq_relationship/output_bias": (2,),
        }
    )
    for name, shape in list(shapes.items()):  # AdamWeightDecayOptimizer's slots
        shapes[f"{name}/adam_m"] = shape
        shapes[f"{name}/adam_v"] = shape
    return shapes


def gpt2() -> dict[str, tuple]:
    shapes: dict[str, tuple] = {"model/wte": (V, H), "model/wpe": (P, H)}
    for i in range(2):
        p = f"model/h{i}"
        shapes.update(
            {
                f"{p}/ln_1/g": (H,),
                f"{p}/ln_1/b": (H,),
                f"{p}/attn/c_attn/w": (1, H, 3 * H),
                f"{p}/attn/c_attn/b": (3 * H,),
                f"{p}/attn/c_proj/w": (1, H, H),
                f"{p}/attn/c_proj/b": (H,),
                f"{p}/ln_2/g": (H,),
                f"{p}/ln_2/b": (H,),
                f"{p}/mlp/c_fc/w": (1, H, 4 * H),
                f"{p}/mlp/c_fc/b": (4 * H,),
                f"{p}/mlp/c_proj/w": (1, 4 * H, H),
                f"{p}/mlp/c_proj/b": (H,),
            }
        )
    shapes["model/ln_f/g"] = (H,)
    shapes["model/ln_f/b"] = (H,)
    return shapes


T5_BUCKETS, T5_HEADS, T5_KV = 32, 2, 4


def _t5_attention(prefix: str, relative: bool) -> dict[str, tuple]:
    inner = T5_HEADS * T5_KV
    shapes = {f"{prefix}/{p}": (H, inner) for p in ("q", "k", "v")}
    shapes[f"{prefix}/o"] = (inner, H)
    if relative:
        shapes[f"{prefix}/relative_attention_bias"] = (T5_HEADS, T5_BUCKETS)
    return shapes


def t5() -> dict[str, tuple]:
    shapes: dict[str, tuple] = {"shared/embedding": (V + 2, H)}
    for stack in ("encoder", "decoder"):
        for b in range(2):
            block = f"{stack}/block_{b:03d}"
            shapes.update(_t5_attention(f"{block}/layer_000/SelfAttention", b == 0))
            shapes[f"{block}/layer_000/layer_norm/scale"] = (H,)
            ff = "layer_001"
            if stack == "decoder":
                shapes.update(_t5_attention(f"{block}/layer_001/EncDecAttention", False))
                shapes[f"{block}/layer_001/layer_norm/scale"] = (H,)
                ff = "layer_002"
            shapes[f"{block}/{ff}/DenseReluDense/wi/kernel"] = (H, I)
            shapes[f"{block}/{ff}/DenseReluDense/wo/kernel"] = (I, H)
            shapes[f"{block}/{ff}/layer_norm/scale"] = (H,)
        shapes[f"{stack}/final_layer_norm/scale"] = (H,)
    for name, shape in list(shapes.items()):  # Adafactor's slots (factored for matrices)
        if len(shape) == 2:
            shapes[f"{name}_slot_vr"] = ("float32", shape[:1])
            shapes[f"{name}_slot_vc"] = ("float32", shape[1:])
        else:
            shapes[f"{name}_slot_v"] = ("float32", shape)
    return shapes


def albert() -> dict[str, tuple]:
    shapes = _embeddings("bert/embeddings", E)
    g = "bert/encoder/transformer/group_0/inner_group_0"
    shapes.update(
        {
            "bert/encoder/embedding_hidden_mapping_in/kernel": (E, H),
            "bert/encoder/embedding_hidden_mapping_in/bias": (H,),
            f"{g}/attention_1/output/dense/kernel": (H, H),
            f"{g}/attention_1/output/dense/bias": (H,),
            f"{g}/LayerNorm/gamma": (H,),
            f"{g}/LayerNorm/beta": (H,),
            f"{g}/ffn_1/intermediate/dense/kernel": (H, I),
            f"{g}/ffn_1/intermediate/dense/bias": (I,),
            f"{g}/ffn_1/intermediate/output/dense/kernel": (I, H),
            f"{g}/ffn_1/intermediate/output/dense/bias": (H,),
            f"{g}/LayerNorm_1/gamma": (H,),
            f"{g}/LayerNorm_1/beta": (H,),
            "bert/pooler/dense/kernel": (H, H),
            "bert/pooler/dense/bias": (H,),
            "cls/predictions/transform/dense/kernel": (H, E),
            "cls/predictions/transform/dense/bias": (E,),
            "cls/predictions/transform/LayerNorm/gamma": (E,),
            "cls/predictions/transform/LayerNorm/beta": (E,),
            "cls/predictions/output_bias": (V,),
            "cls/seq_relationship/output_weights": (2, H),
            "cls/seq_relationship/output_bias": (2,),
        }
    )
    for part in ("query", "key", "value"):
        shapes[f"{g}/attention_1/self/{part}/kernel"] = (H, H)
        shapes[f"{g}/attention_1/self/{part}/bias"] = (H,)
    return shapes


def electra() -> dict[str, tuple]:
    shapes = _embeddings("electra/embeddings", E)
    shapes["electra/embeddings_project/kernel"] = (E, H)
    shapes["electra/embeddings_project/bias"] = (H,)
    for i in range(2):
        shapes.update(_bert_layer(f"electra/encoder/layer_{i}"))
    shapes.update(
        {
            "discriminator_predictions/dense/kernel": (H, H),
            "discriminator_predictions/dense/bias": (H,),
            "discriminator_predictions/dense_1/kernel": (H, 1),
            "discriminator_predictions/dense_1/bias": (1,),
            # the generator, trained alongside; the discriminator model does not hold it
            "generator/embeddings_project/kernel": (E, H // 2),
            "generator/embeddings_project/bias": (H // 2,),
            "generator_predictions/dense/kernel": (H // 2, E),
            "generator_predictions/LayerNorm/gamma": (E,),
            "generator_predictions/output_bias": (V,),
        }
    )
    return shapes


def gpt_neo() -> dict[str, tuple]:
    shapes: dict[str, tuple] = {"gpt2/wte": (V, H), "gpt2/wpe": (P, H)}
    for i in range(2):
        p = f"gpt2/h{i}"
        shapes.update({f"{p}/attn/{x}": (H, H) for x in "qkvo"})
        shapes.update(
            {
                f"{p}/norm_1/g": (H,),
                f"{p}/norm_1/b": (H,),
                f"{p}/attn/compute_output_bias/o_b": (H,),
                f"{p}/norm_2/g": (H,),
                f"{p}/norm_2/b": (H,),
                f"{p}/mlp/conv1d_main/c_fc/kernel": (H, 4 * H),
                f"{p}/mlp/conv1d_main/c_fc/bias": (4 * H,),
                f"{p}/mlp/conv1d_main/c_proj/kernel": (4 * H, H),
                f"{p}/mlp/conv1d_main/c_proj/bias": (H,),
            }
        )
    shapes["gpt2/ln_f/g"] = (H,)
    shapes["gpt2/ln_f/b"] = (H,)
    return shapes


# name: (variables, weight dtype, loader, model class, config class, config, original config
# file name and contents or None)
BERT_CONFIG = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": H,
    "initializer_range": 0.02,
    "intermediate_size": I,
    "max_position_embeddings": P,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "type_vocab_size": 2,
    "vocab_size": V,
}
ALBERT_CONFIG = {
    **BERT_CONFIG,
    "embedding_size": E,
    "num_hidden_groups": 1,
    "inner_group_num": 1,
    "net_structure_type": 0,
    "gap_size": 0,
    "num_memory_blocks": 0,
    "down_scale_factor": 1,
}
GPT2_HPARAMS = {"n_vocab": V, "n_ctx": P, "n_embd": H, "n_head": 2, "n_layer": 2}

MODELS = {
    "bert": dict(
        variables=bert,
        dtype="float32",
        loader="transformers.models.bert.modeling_bert:load_tf_weights_in_bert",
        model="BertForPreTraining",
        config=("BertConfig", BERT_CONFIG),
        original_config=("bert_config.json", BERT_CONFIG),
    ),
    "gpt2": dict(
        variables=gpt2,
        dtype="float32",
        loader="transformers.models.gpt2.modeling_gpt2:load_tf_weights_in_gpt2",
        model="GPT2Model",
        config=("GPT2Config", dict(vocab_size=V, n_positions=P, n_embd=H, n_head=2, n_layer=2)),
        original_config=("hparams.json", GPT2_HPARAMS),
        global_step=False,
    ),
    "t5": dict(
        variables=t5,
        dtype="bfloat16",
        loader="transformers.models.t5.modeling_t5:load_tf_weights_in_t5",
        model="T5ForConditionalGeneration",
        config=(
            "T5Config",
            dict(
                vocab_size=V + 2,
                d_model=H,
                d_kv=T5_KV,
                d_ff=I,
                num_layers=2,
                num_heads=T5_HEADS,
                relative_attention_num_buckets=T5_BUCKETS,
                feed_forward_proj="relu",
            ),
        ),
        original_config=None,
    ),
    "albert": dict(
        variables=albert,
        dtype="float32",
        loader="transformers.models.albert.modeling_albert:load_tf_weights_in_albert",
        model="AlbertForPreTraining",
        config=("AlbertConfig", {**ALBERT_CONFIG, "hidden_dropout_prob": 0.0}),
        original_config=("albert_config.json", ALBERT_CONFIG),
    ),
    "electra": dict(
        variables=electra,
        dtype="float32",
        loader="transformers.models.electra.modeling_electra:load_tf_weights_in_electra",
        model="ElectraForPreTraining",
        config=(
            "ElectraConfig",
            dict(
                vocab_size=V,
                embedding_size=E,
                hidden_size=H,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=I,
                max_position_embeddings=P,
            ),
        ),
        original_config=None,
    ),
    "gpt_neo": dict(
        variables=gpt_neo,
        dtype="bfloat16",
        loader="transformers.models.gpt_neo.modeling_gpt_neo:load_tf_weights_in_gpt_neo",
        model="GPTNeoForCausalLM",
        config=(
            "GPTNeoConfig",
            dict(
                vocab_size=V,
                hidden_size=H,
                num_layers=2,
                num_heads=2,
                attention_types=[[["global", "local"], 1]],
                max_position_embeddings=P,
                window_size=4,
                intermediate_size=4 * H,
            ),
        ),
        original_config=None,
    ),
}


def write(name: str, directory: Path) -> str:
    """Write model `name`'s checkpoint with TensorFlow into `directory`; returns the prefix."""
    import ml_dtypes
    import tensorflow as tf

    spec = MODELS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for var, shape in spec["variables"]().items():
        dtype = spec["dtype"]
        if isinstance(shape[0], str):
            dtype, shape = shape
        value = rng.standard_normal(shape).astype(np.float32)
        if dtype == "bfloat16":
            value = value.astype(ml_dtypes.bfloat16)
        tensors[var] = tf.constant(value)
    if spec.get("global_step", True):  # OpenAI's GPT-2 release has none
        tensors["global_step"] = tf.constant(np.int64(1000))
    prefix = str(directory / "model.ckpt-1000")
    names = list(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )
    (directory / "checkpoint").write_text(
        'model_checkpoint_path: "model.ckpt-1000"\nall_model_checkpoint_paths: "model.ckpt-1000"\n'
    )
    if spec["original_config"] is not None:
        file_name, contents = spec["original_config"]
        (directory / file_name).write_text(json.dumps(contents, indent=2))
    return prefix


def build_model(name: str):
    """The transformers model for `name`, with its tiny config, in eval mode."""
    import transformers

    spec = MODELS[name]
    config_class, config = spec["config"]
    config = getattr(transformers, config_class)(**config)
    model = getattr(transformers, spec["model"])(config)
    return model.eval()
