"""``python -m mfdiff …`` (also what ``torchrun … -m mfdiff train …`` runs)."""

import sys

from mfdiff.cli import main

sys.exit(main())
