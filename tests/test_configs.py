"""The recipes under configs/: each one validates, and the shipped models' stored configs are the recipes' own."""
from pathlib import Path

import pytest

from daekit.checkpoint import load_checkpoint
from daekit.config import resolve_config
from daekit.noise import parse_noise
from daekit.pretrained import find_pretrained

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_validates_and_its_noise_parses(path):
    cfg = resolve_config(path)
    parse_noise(cfg.noise)
    assert cfg.out.startswith("runs/")


def _chain(first: str) -> list:
    """A staged recipe (NAME.yaml, NAME-stage2.yaml, ...) in order."""
    stages = [resolve_config(CONFIGS / f"{first}.yaml")]
    k = 2
    while (CONFIGS / f"{first}-stage{k}.yaml").exists():
        stages.append(resolve_config(CONFIGS / f"{first}-stage{k}.yaml"))
        k += 1
    return stages


@pytest.mark.parametrize("name", ["photo-gray", "photo-color", "photo-real"])
def test_a_shipped_models_recipe_starts_each_stage_from_the_last_and_ends_in_the_shipped_model(name):
    stages = _chain(name)
    for before, after in zip(stages, stages[1:]):  # stage k+1 starts from stage k's run (its folder or a checkpoint in it)
        assert after.train.init == before.out or after.train.init.startswith(before.out + "/checkpoints/")
    assert stages[-1].out == f"runs/{name}"
    ck = load_checkpoint(find_pretrained(name).weights)
    shipped = ck.config  # what tools/ship_model.py stored
    if "soup" in ck.info:  # the mean of stages' weights (tools/soup.py): of the recipe's runs, the last stage's last
        sources = [s["source"] for s in ck.info["soup"]]
        assert set(sources) <= {st.out for st in stages} and sources[-1] == stages[-1].out
    assert shipped["noise"] == stages[-1].noise
    assert shipped["model"] == {"name": stages[-1].model.name, "args": stages[-1].model.args}
    assert shipped["train"]["lr"] == stages[-1].train.lr and shipped["train"]["schedule"] == stages[-1].train.schedule
    assert shipped["train"]["init"] == stages[-1].train.init
    assert shipped["train"].get("loss", "auto") == stages[-1].train.loss  # older checkpoints predate a setting:
    assert shipped["data"].get("zoom", 1.0) == stages[-1].data.zoom  # its default then
