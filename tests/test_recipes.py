"""ckptio.recipes and `ckptio convert --recipe`: the files load into transformers' models with
the same tensors, bit for bit, as transformers' own TF loaders run with real TensorFlow."""

from __future__ import annotations

import json

import ckptio
import numpy as np
import pytest
from ckptio import recipes
from ckptio.cli import main as cli_main

RECIPE_MODELS = ["bert", "gpt2", "t5", "albert", "electra"]


def _bits(tensor):
    import torch

    return tensor.contiguous().view(-1).view(torch.uint8)


@pytest.mark.parametrize("name", RECIPE_MODELS)
def test_recipe_loads_bit_identical_to_transformers_loader(hf_reference, tmp_path, name):
    import hfmodels
    import safetensors.torch
    import torch

    out = tmp_path / "model.safetensors"
    assert cli_main([
        "convert", hf_reference.prefix(name), str(out), "--recipe", f"hf-{name}", "--verify"
    ]) == 0  # fmt: skip
    recipe = recipes.RECIPES[f"hf-{name}"]
    written = safetensors.torch.load_file(str(out))
    stored = list(ckptio.open(hf_reference.prefix(name)))
    training = [n for n in stored if n == "global_step" or "adam" in n or "_slot_" in n]
    assert training or name == "gpt2"  # the training state was there, and was dropped
    assert len(written) == len(stored) - len(training) - (name == "electra") * 5
    for key, tensor in written.items():  # dtypes kept (T5's bfloat16 stays bfloat16)
        expected = hfmodels.MODELS[name]["dtype"]
        assert str(tensor.dtype) == f"torch.{expected}", key
    torch.manual_seed(0)
    model = hfmodels.build_model(name)
    result = model.load_state_dict(written, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == sorted(recipe.tied)  # tied: re-tied by the model
    reference = hf_reference.results[name]["state"]
    state = model.state_dict()
    assert state.keys() == reference.keys()
    for key, expected in reference.items():
        assert state[key].dtype == expected.dtype and state[key].shape == expected.shape, key
        assert torch.equal(_bits(state[key]), _bits(expected)), key


@pytest.mark.parametrize("name", ["bert", "albert", "gpt2"])
def test_recipe_writes_config_for_from_pretrained(hf_reference, tmp_path, name):
    import hfmodels
    import torch
    import transformers

    out = tmp_path / "model.safetensors"
    recipes.convert(hf_reference.prefix(name), out, f"hf-{name}")
    config = json.loads((tmp_path / "config.json").read_text())
    recipe = recipes.RECIPES[f"hf-{name}"]
    assert config["architectures"] == [recipe.model]
    model = getattr(transformers, recipe.model).from_pretrained(str(tmp_path))
    reference = hf_reference.results[name]["state"]
    for key, tensor in model.state_dict().items():
        assert torch.equal(_bits(tensor), _bits(reference[key])), key
    tiny = getattr(transformers, hfmodels.MODELS[name]["config"][0])(
        **hfmodels.MODELS[name]["config"][1]
    )
    for field in ("hidden_size", "vocab_size", "num_hidden_layers", "n_embd", "n_layer"):
        if hasattr(tiny, field):
            assert getattr(model.config, field) == getattr(tiny, field)


def test_recipe_errors(hf_reference, tmp_path):
    out = tmp_path / "x.safetensors"
    # a rule matching no tensor: the wrong recipe for the checkpoint
    with pytest.raises(ckptio.RecipeError, match="match no tensor"):
        recipes.convert(hf_reference.prefix("bert"), out, "hf-gpt2")
    assert not out.exists()
    # a tensor no rule covers
    (tmp_path / "extra").mkdir()
    extra = str(tmp_path / "extra" / "model.ckpt")
    ckpt = ckptio.open(hf_reference.prefix("bert"))
    tensors = {n: ckpt.get_tensor(n) for n in ckpt}
    tensors["bert/encoder/layer_0/attention/self/query/scale_factor"] = np.ones(2, np.float32)
    ckptio.save(extra, tensors)
    with pytest.raises(ckptio.RecipeError, match="no rule for 1 tensor") as caught:
        recipes.convert(extra, out, "hf-bert")
    assert caught.value.key.endswith("scale_factor")
    assert cli_main(["convert", extra, str(out), "--recipe", "hf-bert"]) == 1
    assert cli_main(["convert", extra, str(out), "--recipe", "hf-bert", "--layout", "torch"]) == 2
    assert cli_main(["convert", extra, str(out), "--map-re", "(=x"]) == 2


def test_general_tools_alone(tf_checkpoints, hf_reference, tmp_path):
    import safetensors.numpy

    prefix = hf_reference.prefix("bert")
    out = tmp_path / "x.safetensors"
    assert cli_main([
        "convert", prefix, str(out), "--map-re", r"layer_(\d+)/=layer.\1.",
        "--drop", "training-state", "--layout-rule", "kernel$=transpose",
    ]) == 0  # fmt: skip
    written = safetensors.numpy.load_file(str(out))
    ckpt = ckptio.open(prefix)
    assert "global_step" not in written and not any("adam" in n for n in written)
    assert len(written) == len([n for n in ckpt if "adam" not in n]) - 1
    kernel = ckpt.get_tensor("bert/encoder/layer_1/intermediate/dense/kernel")
    np.testing.assert_array_equal(
        written["bert/encoder/layer.1.intermediate/dense/kernel"], kernel.T
    )
    # the API spelling
    report = recipes.convert(prefix, tmp_path / "y.npz", drop="training_state",
                             map_re=[(r"^bert/", "")])  # fmt: skip
    assert "embeddings/word_embeddings" in report.written.values()
    with pytest.raises(ckptio.RecipeError, match="match no tensor"):
        recipes.convert(prefix, tmp_path / "z.npz", map_re=["^nothing/="])
