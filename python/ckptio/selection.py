"""`ckptio.selection` is `ckptio.restore.selection`, the same module under its older name."""

import sys

from .restore import selection
from .restore.selection import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = selection
