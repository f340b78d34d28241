"""``python -m tuner`` — see :mod:`tuner.cli`."""

import sys

from tuner.cli import main

sys.exit(main())
