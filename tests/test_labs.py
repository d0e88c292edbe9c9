"""The labs (docs/labs/*.ipynb) run from top to bottom without an error, at one epoch per training."""
from __future__ import annotations

from pathlib import Path

import pytest

LABS = sorted((Path(__file__).resolve().parents[1] / "docs" / "labs").glob("*.ipynb"))


def test_there_are_labs():
    assert [p.stem[:2] for p in LABS] == ["01", "02", "03"]


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_runs(lab, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("DAEKIT_LAB_EPOCHS", "1")  # the kernel inherits it: the labs' small setting
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one thread per kernel, as each test worker has (tests run 2 at once)
    nb = nbformat.read(lab, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "labs are committed without outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert figures or lab.stem.startswith("02"), "the lab shows its figures inline"
