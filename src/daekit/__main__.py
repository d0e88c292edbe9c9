"""``python -m daekit`` runs the CLI (torchrun launches it this way)."""
import sys

from .cli import main

sys.exit(main())
