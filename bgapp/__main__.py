"""``python -m bgapp``: see ``bgapp.cli``."""

import sys

from .cli import main

sys.exit(main())
