"""A training run's folder and its life cycle: what may be replaced, what survives a kill.

Layout: ``config.yaml``, ``metrics.jsonl``, ``checkpoints/{best,last}.safetensors`` (+ ``.json``
sidecars), ``distributed.json``. The promises kept here:

- A folder that holds anything of a run (a checkpoint, metrics, or a ``config.yaml`` other than the
  one this run would write) is refused unless ``--resume`` or ``--overwrite`` is given.
- ``--overwrite`` moves the old run aside into ``.replaced/`` and deletes it only once the new run has
  written its first checkpoint; a new run that fails or is killed before that gets the old run put
  back (at once, or when the folder is next opened).
- Leftover temporary files of atomic writes (``.NAME.*.tmp``) are removed when the folder is opened.
- On resume ``metrics.jsonl`` is rewritten from the checkpoint's history, so epochs run again after
  a kill are not logged twice.

Only rank 0 of a distributed job calls the methods that change files.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable

from .io import atomic_write_text, json_text
from .errors import DaekitError

ASIDE = ".replaced"  # the old run during an --overwrite, until the new run's first checkpoint
RUN_FILES = ("config.yaml", "metrics.jsonl", "checkpoints", "distributed.json")


class RunFolder:
    """Paths of a run folder and the moves that keep its last good state."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.config = self.out / "config.yaml"
        self.metrics = self.out / "metrics.jsonl"
        self.checkpoints = self.out / "checkpoints"
        self.last = self.checkpoints / "last.safetensors"
        self.best = self.checkpoints / "best.safetensors"
        self.aside = self.out / ASIDE

    def recover(self) -> str | None:
        """Tidies what a kill can leave behind; returns a note for the user when a run was put back.

        Temp files of interrupted atomic writes are removed. An old run set aside by an ``--overwrite``
        whose new run never wrote a checkpoint is moved back; if the new run did, the old one is deleted.
        """
        for folder in (self.out, self.checkpoints):
            for tmp in folder.glob(".*.tmp*") if folder.is_dir() else ():
                tmp.unlink(missing_ok=True)
        if not self.aside.is_dir():
            return None
        if self.last.exists():  # the replacement had its first checkpoint: the old run was no longer needed
            shutil.rmtree(self.aside)
            return None
        self.restore_aside()
        return f"put back the earlier run in {self.out} (an --overwrite was interrupted before its first checkpoint)"

    def holds_run(self, config_text: str) -> list[str]:
        """The files that make this folder someone's run, for this run's config text (empty: free to use).

        A ``config.yaml`` identical to `config_text` with no checkpoint is this very run, interrupted
        before its first checkpoint: starting it again loses nothing.
        """
        found = [p.name for p in (self.checkpoints, self.metrics) if p.exists() and not _empty(p)]
        if self.config.exists() and (found or self.config.read_text(errors="replace") != config_text):
            found.insert(0, self.config.name)
        return found

    def claim(self, config_text: str, resume: bool, overwrite: bool) -> bool:
        """Checks that a run may start here; returns True when an old run must be set aside first.

        Raises:
            DaekitError: a run is there and neither `resume` nor `overwrite` was given; or `resume`
                with nothing to resume.
        """
        if resume:
            if self.last.exists():
                return False
            if self.config.exists() and self.config.read_text(errors="replace") == config_text:
                return False  # killed before its first checkpoint: it starts from the beginning
            raise DaekitError(f"nothing to resume: {self.last} does not exist")
        found = self.holds_run(config_text)
        if found and not overwrite:
            raise DaekitError(f"run folder {self.out} already holds a run ({', '.join(found)}); "
                              "pass --resume to continue it or --overwrite to replace it (in Python: resume=True / overwrite=True)")
        return bool(found)

    def set_aside(self) -> None:
        """Moves the old run's files into ``.replaced/`` (kept until the new run's first checkpoint)."""
        if self.aside.exists():
            shutil.rmtree(self.aside)
        self.aside.mkdir(parents=True)
        for name in RUN_FILES:
            if (self.out / name).exists():
                (self.out / name).rename(self.aside / name)

    def restore_aside(self) -> None:
        """Puts the set-aside run back, replacing what the new run had written."""
        if not self.aside.is_dir():
            return
        for name in RUN_FILES:
            p = self.out / name
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
            if (self.aside / name).exists():
                (self.aside / name).rename(p)
        shutil.rmtree(self.aside)

    def drop_aside(self) -> None:
        """The new run has a checkpoint: the old one is deleted."""
        if self.aside.exists():
            shutil.rmtree(self.aside)

    def write_metrics(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rewrites ``metrics.jsonl`` with exactly `rows` (atomically)."""
        atomic_write_text(self.metrics, "".join(json_text(r) + "\n" for r in rows))

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics, "a") as f:
            f.write(json_text(row) + "\n")


def _empty(p: Path) -> bool:
    return not any(p.iterdir()) if p.is_dir() else p.stat().st_size == 0
