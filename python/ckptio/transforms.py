"""`ckptio.transforms` is `ckptio.restore.transforms`, the same module under its older name."""

import sys

from .restore import transforms
from .restore.transforms import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = transforms
