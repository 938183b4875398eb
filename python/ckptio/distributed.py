"""`ckptio.distributed` is `ckptio.convert.distributed`, the same module under its older name."""

import sys

from .convert import distributed
from .convert.distributed import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = distributed
