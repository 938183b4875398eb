"""`ckptio.targets` is `ckptio.restore.targets`, the same module under its older name."""

import sys

from .restore import targets
from .restore.targets import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = targets
