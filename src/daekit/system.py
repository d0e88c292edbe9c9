"""What the machine has right now (a ground-floor module: it imports nothing of daekit's)."""
from __future__ import annotations

import os


def available_ram() -> int:
    """Bytes of RAM available now (Linux), else 2 GiB (a cautious guess)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-Linux
        return 2 << 30
