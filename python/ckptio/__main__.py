"""``python -m ckptio``: the ``ckptio`` command (see `ckptio.cli`)."""

import sys

from .cli import main

sys.exit(main())
