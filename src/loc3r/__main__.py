"""``python -m loc3r`` (also what ``torchrun -m loc3r`` runs)."""

import sys

from loc3r.cli.main import main

sys.exit(main())
