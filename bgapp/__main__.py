"""``python -m bgapp``: see ``bgapp.cli``."""

import sys

from bgapp.cli import main

sys.exit(main())
