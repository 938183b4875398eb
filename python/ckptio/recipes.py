"""`ckptio.recipes` is `ckptio.convert.recipes`, the same module under its older name."""

import sys

from .convert import recipes
from .convert.recipes import *  # noqa: F403 (its names, for type checkers)

sys.modules[__name__] = recipes
