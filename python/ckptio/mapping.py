"""`ckptio.mapping` is `ckptio.restore.mapping`, the same module under its older name."""

import sys

from .restore import mapping
from .restore.mapping import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = mapping
