"""``python -m specdec_lite ...`` runs the command line (see :mod:`specdec_lite.cli`)."""

import sys

from .cli import main

sys.exit(main())
