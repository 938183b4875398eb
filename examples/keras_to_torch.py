"""Load a TF2 Keras checkpoint into the equivalent PyTorch module (needs torch, not TF).

The checkpoint (`tf.train.Checkpoint(model=keras_model).write(...)`) has object-based keys
such as `model/_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE`; its object graph gives each
one the name Keras knows (`conv/kernel`). The "torch" layout renames (`conv.weight`,
`bn.running_var`) and re-lays out the arrays: Conv2D HWIO -> OIHW, DepthwiseConv2D
`[H, W, C, M]` -> `[C*M, 1, H, W]`, Dense `[in, out]` -> `[out, in]`. BatchNorm's
`num_batches_tracked` has no TF counterpart and is left alone.

    python examples/keras_to_torch.py [CHECKPOINT_DIR]

The bundled directory holds an input batch and the Keras model's output on it; the script
checks that the PyTorch module gives the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ckptio
import numpy as np

DEFAULT = Path(__file__).resolve().parent / "data" / "keras_convnet"


def torch_convnet():
    """The PyTorch twin of the Keras model in examples/make_restore_checkpoints.py."""
    import torch
    from torch import nn

    class ConvNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3)
            self.bn = nn.BatchNorm2d(6, eps=1e-3)  # Keras' default epsilon
            self.dw = nn.Conv2d(6, 12, 3, groups=6)  # DepthwiseConv2D, depth_multiplier=2
            self.fc = nn.Linear(12, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.bn(self.conv(x)))
            return self.fc(self.dw(x).mean(dim=(2, 3)))

    return ConvNet()


def load_keras_checkpoint(checkpoint, module):
    """Fill `module` (a torch.nn.Module) from a Keras checkpoint; returns the plan."""
    import torch

    view = ckptio.object_graph(checkpoint).view()  # names as Keras knows them
    state = module.state_dict()
    plan = ckptio.plan_restore(view, state, layout="torch")
    with torch.no_grad():
        plan.load(lambda name, array: state[name].copy_(torch.from_numpy(array)), copy=True)
    return plan


def main(argv: list[str]) -> int:
    import torch

    directory = Path(argv[1]) if len(argv) > 1 else DEFAULT
    module = torch_convnet().eval()
    print(load_keras_checkpoint(directory, module))
    images = np.load(directory / "input.npy")  # NHWC, as Keras takes it
    with torch.no_grad():
        out = module(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    expected = np.load(directory / "expected.npy")
    print(f"\nmax |torch - keras| = {np.abs(out - expected).max():.2e}")
    return 0 if np.allclose(out, expected, atol=1e-5) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
