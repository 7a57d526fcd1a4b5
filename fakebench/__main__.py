"""``python -m fakebench`` runs the command line, for environments without the entry point on PATH."""

import sys

from fakebench.cli import main

sys.exit(main())
