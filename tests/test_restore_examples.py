"""The partial-restore scenarios of examples/, each checked against TensorFlow doing it.

The checkpoints are written by the generators in examples/make_restore_checkpoints.py (real
TF, test-only); the examples plan and load with ckptio alone; TF then performs the same
restore the way its users do (tf-slim, tf-faster-rcnn's `fix_variables`, `Saver`, Keras) and
the values must agree bit for bit (PyTorch: same outputs as the Keras model). Each example's
`main` also runs on the checkpoints bundled in examples/data/.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import ckptio
import numpy as np
import pytest
from conftest import assert_bitwise_equal, import_tensorflow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str):
    """Import examples/<name>.py as a module."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tf():
    return import_tensorflow()


@pytest.fixture(scope="module")
def slim(tf):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("tf_slim", reason="tf-slim is not installed (test-only)")


@pytest.fixture(scope="module")
def make(tf, tmp_path_factory):
    """make(name) -> prefix: run an example generator into a fresh directory."""
    generators = example("make_restore_checkpoints").GENERATORS
    return lambda name: generators[name](tmp_path_factory.mktemp(name))


def build(tf, model: dict) -> list:
    """Create `model` ({name: shape or (shape, dtype)}) as zero-initialised TF1 variables."""
    v1 = tf.compat.v1
    out = []
    for name, spec in model.items():
        typed = len(spec) == 2 and isinstance(spec[1], str)
        shape, dtype = spec if typed else (spec, "float32")
        out.append(
            v1.get_variable(
                name, shape=shape, dtype=getattr(tf, dtype), initializer=v1.zeros_initializer()
            )
        )
    return out


def session_values(tf, sess) -> dict[str, np.ndarray]:
    return {v.op.name: sess.run(v) for v in tf.compat.v1.global_variables()}


def assert_restored(values: dict, loaded: dict) -> None:
    """`loaded` matches TF's values, and every variable the plan did not load is still zero."""
    for name, value in values.items():
        if name in loaded:
            assert_bitwise_equal(np.asarray(loaded[name]), value, name)
        else:
            assert not np.any(value), f"TF restored {name}, the plan did not"


@pytest.mark.parametrize(
    "name",
    [
        "restore_deeplab",
        "restore_vgg16_faster_rcnn",
        "restore_renamed",
        "finetune_last_layer",
    ],
)
def test_example_runs_on_bundled_data(name, capsys):
    assert example(name).main([name]) == 0
    assert "Restore plan from" in capsys.readouterr().out


# --------------------------------------------------------------------------- (1) DeepLab


def test_deeplab_init(tf, slim, make):
    deeplab = example("restore_deeplab")
    prefix = make("deeplab_pretrained")
    exclude = ["global_step", *deeplab.LAST_LAYERS]
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        build(tf, deeplab.MODEL)
        to_restore = slim.get_variables_to_restore(exclude=exclude)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Checkpoint is missing variable [...]"
            init_op, feed = slim.assign_from_checkpoint(
                prefix, to_restore, ignore_missing_vars=True
            )
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(init_op, feed)
            values = session_values(tf, sess)
        selected = [v.op.name for v in to_restore]

    plan = deeplab.init_from_pretrained(prefix)
    assert ckptio.select(deeplab.MODEL, exclude=exclude) == selected
    assert "aspp1_depthwise/depthwise_weights" not in selected  # slim's prefix match on "aspp"
    loaded = plan.load()
    assert_restored(values, loaded)
    assert {m.target for m in plan.missing} == {
        "MobilenetV2/extra_block/weights",
        "MobilenetV2/expanded_conv/project/weights/Momentum",
    }
    assert plan.unassigned["logits/semantic/weights"] == "not selected: exclude 'logits'"
    assert all(e.zero_copy for e in plan.entries)
    assert all(not a.flags.writeable for a in loaded.values())


# --------------------------------------------------------------------------- (2) Faster R-CNN


def test_vgg16_faster_rcnn_fix_variables(tf, make):
    """tf-faster-rcnn's VGG-16 init (restore, then `fix_variables`), under a `my/` scope."""
    frcnn = example("restore_vgg16_faster_rcnn")
    prefix = make("vgg_16")
    with ckptio.open(prefix) as ckpt:
        assert ckpt.format == "V1"  # like TF-slim's vgg_16.ckpt
        keep = set(ckpt.keys())
    v1 = tf.compat.v1
    fix = {"vgg_16/fc6/weights", "vgg_16/fc7/weights", "vgg_16/conv1/conv1_1/weights"}
    with tf.Graph().as_default():
        variables = {v.op.name: v for v in build(tf, frcnn.MODEL)}
        # get_variables_to_restore: checkpoint names present, minus the three to fix.
        plain = {
            name[len("my/") :]: v
            for name, v in variables.items()
            if name[len("my/") :] in keep and name[len("my/") :] not in fix
        }
        with v1.variable_scope("Fix_VGG16"):
            fc6 = v1.get_variable("fc6_conv", [7, 7, 4, 16], trainable=False)
            fc7 = v1.get_variable("fc7_conv", [1, 1, 16, 16], trainable=False)
            rgb = v1.get_variable("conv1_rgb", [3, 3, 3, 4], trainable=False)
        restore_fc = v1.train.Saver(
            {
                "vgg_16/fc6/weights": fc6,
                "vgg_16/fc7/weights": fc7,
                "vgg_16/conv1/conv1_1/weights": rgb,
            }
        )
        fc6_w = variables["my/vgg_16/fc6/weights"]
        fc7_w = variables["my/vgg_16/fc7/weights"]
        conv1 = variables["my/vgg_16/conv1/conv1_1/weights"]
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            v1.train.Saver(plain).restore(sess, prefix)
            restore_fc.restore(sess, prefix)
            sess.run(v1.assign(fc6_w, tf.reshape(fc6, fc6_w.get_shape())))
            sess.run(v1.assign(fc7_w, tf.reshape(fc7, fc7_w.get_shape())))
            sess.run(v1.assign(conv1, tf.reverse(rgb, [2])))
            values = {n: sess.run(v) for n, v in variables.items()}

    plan = frcnn.restore_trunk(prefix)
    assert_restored(values, plan.load())
    steps = {e.target: [str(t) for t in e.transforms] for e in plan.entries}
    assert steps["my/vgg_16/fc6/weights"] == ["reshape(196,16)"]
    assert steps["my/vgg_16/fc7/weights"] == ["reshape(16,16)"]
    assert steps["my/vgg_16/conv1/conv1_1/weights"] == ["reverse(axis=2)"]
    assert set(plan.unused) == {"global_step", "vgg_16/fc8/weights", "vgg_16/fc8/biases"}
    # Without reshape=True the dense fc6 cannot take the conv-shaped tensor.
    with pytest.raises(ckptio.RestoreError, match="reshape=True"):
        ckptio.plan_restore(prefix, frcnn.MODEL, target_prefix="my/", ignore_missing=True)


# --------------------------------------------------------------------------- (3) v3 -> v3_x


def test_restore_renamed(tf, make):
    renamed = example("restore_renamed")
    prefix = make("renamed_vars")
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        variables = {v.op.name: v for v in build(tf, renamed.MODEL)}
        saver = v1.train.Saver(
            {"v1": variables["v1"], "v2": variables["v2"], "v3": variables["v3_x"]}
        )
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.restore(sess, prefix)
            values = session_values(tf, sess)
    for plan in (renamed.restore_renamed(prefix), renamed.restore_with_assignment_map(prefix)):
        assert plan.pairs() == {"v1": "v1", "v2": "v2", "v3_x": "v3"}
        assert list(plan.unassigned) == ["fresh"]
        assert_restored(values, plan.load())


# --------------------------------------------------------------------------- (4) last layer


def test_finetune_last_layer(tf, slim, make):
    finetune = example("finetune_last_layer")
    prefix = make("vgg_16")
    v1 = tf.compat.v1
    model = {**finetune.MODEL, "vgg_16/fc8_aux/weights": (16, 3)}  # a prefix trap
    with tf.Graph().as_default():
        build(tf, model)
        trainable = [v.op.name for v in slim.get_variables("vgg_16/fc8")]
        frozen_vars = slim.get_variables_to_restore(exclude=["vgg_16/fc8"])
        init_fn = slim.assign_from_checkpoint_fn(prefix, frozen_vars)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            init_fn(sess)
            values = session_values(tf, sess)
    frozen, ours_trainable = finetune.split(model)
    assert ours_trainable == trainable and "vgg_16/fc8_aux/weights" in trainable
    assert frozen == [v.op.name for v in frozen_vars]
    assert_restored(values, ckptio.plan_restore(prefix, model, only=frozen).load())
    # match="path": whole components, the aux layer stays frozen.
    frozen_path, trainable_path = finetune.split(model, match="path")
    assert trainable_path == ["vgg_16/fc8/weights", "vgg_16/fc8/biases"]
    assert "vgg_16/fc8_aux/weights" in frozen_path
    # The bundled example's own model restores everything but fc8.
    assert set(finetune.restore_frozen(prefix).unassigned) == {
        "vgg_16/fc8/weights",
        "vgg_16/fc8/biases",
    }


# --------------------------------------------------------------------------- (5) Keras -> torch


@pytest.fixture(scope="module")
def torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(
            "torch", reason="torch is not installed (test-only: pip install torch==2.13.0)"
        )


def test_keras_checkpoint_into_torch(tf, torch, make):
    to_torch = example("keras_to_torch")
    prefix = make("keras_convnet")
    directory = Path(prefix).parent
    module = to_torch.torch_convnet().eval()
    plan = to_torch.load_keras_checkpoint(directory, module)
    assert plan.unassigned == {
        "bn.num_batches_tracked": "PyTorch BatchNorm counter; TF checkpoints have none"
    }
    assert plan.unused == ["_CHECKPOINTABLE_OBJECT_GRAPH"]
    kinds = {e.target: [str(t) for t in e.transforms] for e in plan.entries}
    assert kinds["conv.weight"] == ["transpose(3,2,0,1)"]
    assert kinds["dw.weight"] == ["transpose(2,3,0,1)", "reshape(12,1,3,3)"]
    assert kinds["fc.weight"] == ["transpose(1,0)"]

    # Same outputs as the Keras model, rebuilt from the checkpoint by Keras itself.
    model = example("make_restore_checkpoints").keras_convnet_model(seed=99)
    tf.train.Checkpoint(model=model).read(prefix).assert_existing_objects_matched()
    images = np.random.default_rng(0).normal(size=(3, 9, 9, 3)).astype(np.float32)
    expected = np.asarray(model(images, training=False))
    with torch.no_grad():
        got = module(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_keras_to_torch_example_runs_on_bundled_data(torch, capsys):
    assert example("keras_to_torch").main(["keras_to_torch"]) == 0
    assert "max |torch - keras|" in capsys.readouterr().out
