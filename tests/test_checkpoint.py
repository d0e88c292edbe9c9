import os

import pytest
import torch
from safetensors.torch import save_file

from daekit import checkpoint as ck
from daekit.errors import DaekitError
from daekit.models import create_model


def test_round_trip_is_exact_and_carries_state(tmp_path):
    m = create_model("unet", in_channels=3, levels=2, width=8)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m(torch.rand(2, 3, 8, 8)).mean().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "epoch": 3, "pair": (1, 2.5)}
    path = ck.save_checkpoint(tmp_path / "last.safetensors", m, {"noise": "x"}, train_state=state, info={"epoch": 3})
    loaded = ck.load_checkpoint(path)
    m2 = ck.build_model(loaded)
    for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    opt2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
    opt2.load_state_dict(loaded.train_state["optimizer"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    assert torch.equal(loaded.train_state["rng"], state["rng"]) and loaded.train_state["pair"] == (1, 2.5)
    assert loaded.config == {"noise": "x"} and loaded.info["epoch"] == 3
    assert (tmp_path / "last.json").exists()


def test_non_checkpoint_files_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04 this could be a pickle")
    with pytest.raises(DaekitError, match="not a daekit checkpoint"):
        ck.load_checkpoint(junk)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(DaekitError, match="without daekit metadata"):
        ck.load_checkpoint(plain)
    with pytest.raises(DaekitError, match="checkpoint not found"):
        ck.load_checkpoint(tmp_path / "missing.safetensors")


def test_checkpoint_of_another_model(tmp_path):
    path = ck.save_checkpoint(tmp_path / "m.safetensors", create_model("conv"), {})
    with pytest.raises(DaekitError, match="holds a 'conv' model, not 'dense'"):
        ck.build_model(ck.load_checkpoint(path), expect="dense")


def test_weights_that_do_not_fit_their_spec(tmp_path):
    m = create_model("conv")
    m.spec = {**m.spec, "channels": [16, 16]}  # lie about the architecture
    path = ck.save_checkpoint(tmp_path / "m.safetensors", m, {})
    with pytest.raises(DaekitError, match="do not fit"):
        ck.build_model(ck.load_checkpoint(path))


def test_atomic_write_keeps_previous_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    ck.save_checkpoint(path, create_model("conv"), {"v": 1})
    before = path.read_bytes()

    def killed(*a, **k):  # the process dies between writing the temp file and renaming it
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(path, create_model("conv", channels=[4, 4]), {"v": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]  # no temp files left


def test_find_checkpoint(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(DaekitError, match="no checkpoint in run folder"):
        ck.find_checkpoint(tmp_path)
    ck.save_checkpoint(tmp_path / "checkpoints" / "last.safetensors", create_model("conv"), {})
    assert ck.find_checkpoint(tmp_path).name == "last.safetensors"
    with pytest.raises(DaekitError, match="model not found"):
        ck.find_checkpoint(tmp_path / "nope")


def test_loading_a_model_stays_fast():
    """Sizing a model on the meta device must not initialise its weights there: `normal_` on meta imports
    torch._dynamo, which cost every `daekit denoise` 1.1 s (found in the thirtieth session)."""
    import subprocess
    import sys

    code = ("import sys, torch\nfrom daekit import checkpoint as ck\nfrom daekit.pretrained import weights_path\n"
            "m = ck.build_model(ck.load_checkpoint(weights_path('photo-real')))\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False"
