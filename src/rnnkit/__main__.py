"""``python -m rnnkit`` runs the ``rnnkit`` command."""

import sys

from rnnkit.cli import main

sys.exit(main())
