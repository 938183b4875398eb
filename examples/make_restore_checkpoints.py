"""Regenerate the small checkpoints the partial-restore examples use (needs TensorFlow; the
examples themselves don't).

    python examples/make_restore_checkpoints.py

Each generator writes one checkpoint, in the form the real thing has, at stand-in sizes:

* `deeplab_pretrained`: a TF1 `Saver` (V2) bundle of a segmentation network as DeepLab
  publishes them: a `MobilenetV2` backbone, `aspp0`, `image_pooling`, `concat_projection`,
  `decoder`, `logits` for 21 classes, Momentum slots, `global_step`;
* `vgg_16`: a legacy **V1** checkpoint like TF-slim's `vgg_16.ckpt`, with the fully connected
  layers stored as convolutions (`fc6/weights` `[7, 7, C, F]`, `fc7/weights` `[1, 1, F, F]`);
* `renamed_vars`: `v1`, `v2`, `v3`, `v4`, the Saver-renaming example;
* `keras_convnet`: a TF2 `tf.train.Checkpoint(model=...)` of a Keras Conv2D / BatchNorm /
  DepthwiseConv2D / Dense network, with `input.npy` and `expected.npy` (the Keras output).

The test suite (tests/test_restore_examples.py) calls these generators into temporary
directories and checks the examples against TensorFlow doing the same restores.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA = Path(__file__).resolve().parent / "data"

# name -> shape of every variable of the "pretrained" DeepLab stand-in.
DEEPLAB_PRETRAINED = {
    "MobilenetV2/Conv/weights": (3, 3, 3, 8),
    "MobilenetV2/Conv/BatchNorm/gamma": (8,),
    "MobilenetV2/Conv/BatchNorm/beta": (8,),
    "MobilenetV2/Conv/BatchNorm/moving_mean": (8,),
    "MobilenetV2/Conv/BatchNorm/moving_variance": (8,),
    "MobilenetV2/expanded_conv/depthwise/depthwise_weights": (3, 3, 8, 1),
    "MobilenetV2/expanded_conv/project/weights": (1, 1, 8, 8),
    "aspp0/weights": (1, 1, 8, 4),
    "aspp1_depthwise/depthwise_weights": (3, 3, 8, 1),
    "image_pooling/weights": (1, 1, 8, 4),
    "concat_projection/weights": (1, 1, 8, 4),
    "decoder/feature_projection0/weights": (1, 1, 8, 4),
    "logits/semantic/weights": (1, 1, 4, 21),
    "logits/semantic/biases": (21,),
}

# The VGG-16 stand-in (TF-slim names; real sizes: 64 conv channels, fc 4096, 1000 classes).
VGG_16 = {
    "vgg_16/conv1/conv1_1/weights": (3, 3, 3, 4),
    "vgg_16/conv1/conv1_1/biases": (4,),
    "vgg_16/conv1/conv1_2/weights": (3, 3, 4, 4),
    "vgg_16/conv1/conv1_2/biases": (4,),
    "vgg_16/fc6/weights": (7, 7, 4, 16),
    "vgg_16/fc6/biases": (16,),
    "vgg_16/fc7/weights": (1, 1, 16, 16),
    "vgg_16/fc7/biases": (16,),
    "vgg_16/fc8/weights": (1, 1, 16, 10),
    "vgg_16/fc8/biases": (10,),
}


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _relative_state(directory: Path, prefix: str) -> None:
    # Relative paths in the state file, so the directory can be moved (and committed).
    name = os.path.basename(prefix)
    (directory / "checkpoint").write_text(
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
    )


def _tf1_save(
    directory: Path,
    shapes: dict,
    *,
    seed: int,
    v1_format: bool = False,
    momentum: tuple = (),
    step: int = 0,
    name: str = "model.ckpt",
    numbered: bool = True,
) -> str:
    """Variables of `shapes` (random normal) plus `<var>/Momentum` for `momentum` and
    `global_step`, saved by TF1 `Saver` (V2, or V1 with `v1_format`) as `name` plus
    `-<step>` when `numbered`."""
    import tensorflow as tf

    v1 = tf.compat.v1
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        for var_name, shape in shapes.items():
            v1.get_variable(var_name, initializer=rng.normal(size=shape).astype(np.float32))
        for var_name in momentum:
            v1.get_variable(
                var_name + "/Momentum",
                initializer=rng.normal(size=shapes[var_name]).astype(np.float32),
            )
        global_step = v1.train.get_or_create_global_step()
        version = v1.train.SaverDef.V1 if v1_format else v1.train.SaverDef.V2
        saver = v1.train.Saver(write_version=version)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.assign(global_step, step))
            prefix = saver.save(
                sess,
                str(directory / name),
                global_step=global_step if numbered else None,
                write_meta_graph=False,
            )
    _relative_state(directory, prefix)
    return prefix


def deeplab_pretrained(directory: Path) -> str:
    """The DeepLab-style pretrained checkpoint (see the module docstring)."""
    directory = _fresh(Path(directory))
    return _tf1_save(
        directory,
        DEEPLAB_PRETRAINED,
        seed=1,
        momentum=("MobilenetV2/Conv/weights", "logits/semantic/weights"),
        step=30000,
    )


def vgg_16(directory: Path) -> str:
    """The TF-slim VGG-16 stand-in, as a legacy V1 file (`vgg_16.ckpt` is one)."""
    directory = _fresh(Path(directory))
    return _tf1_save(directory, VGG_16, seed=2, v1_format=True, name="vgg_16.ckpt", numbered=False)


def renamed_vars(directory: Path) -> str:
    """`v1` [2,3], `v2` [4], `v3` [3,3], `v4` [] saved by TF1 `Saver`."""
    directory = _fresh(Path(directory))
    shapes = {"v1": (2, 3), "v2": (4,), "v3": (3, 3), "v4": ()}
    return _tf1_save(directory, shapes, seed=3, step=7)


def keras_convnet_model(seed: int = 4):
    """A Keras 3 functional convnet: Conv2D, BatchNorm, ReLU, DepthwiseConv2D (multiplier 2),
    global average pooling, Dense; BatchNorm statistics set to non-trivial values."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(6, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, name="fc")(x)
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn")
    bn.moving_mean.assign(rng.normal(size=6).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=6).astype(np.float32))
    bn.gamma.assign(rng.uniform(0.5, 1.5, size=6).astype(np.float32))
    bn.beta.assign(rng.normal(size=6).astype(np.float32))
    return model


def keras_convnet(directory: Path) -> str:
    """The Keras convnet saved with `tf.train.Checkpoint(model=model).write`, plus a fixed
    input (`input.npy`, NHWC) and the Keras output on it (`expected.npy`)."""
    import tensorflow as tf

    directory = _fresh(Path(directory))
    model = keras_convnet_model()
    images = np.random.default_rng(5).normal(size=(2, 9, 9, 3)).astype(np.float32)
    np.save(directory / "input.npy", images)
    np.save(directory / "expected.npy", np.asarray(model(images, training=False)))
    prefix = tf.train.Checkpoint(model=model).write(str(directory / "ckpt"))
    _relative_state(directory, prefix)
    return prefix


GENERATORS = {
    "deeplab_pretrained": deeplab_pretrained,
    "vgg_16": vgg_16,
    "renamed_vars": renamed_vars,
    "keras_convnet": keras_convnet,
}


def main() -> None:
    for name, generate in GENERATORS.items():
        print(f"{name:20s} {generate(DATA / name)}")


if __name__ == "__main__":
    main()
