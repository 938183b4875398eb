"""`ckptio.objgraph` is `ckptio.restore.objgraph`, the same module under its older name."""

import sys

from .restore import objgraph
from .restore.objgraph import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = objgraph
