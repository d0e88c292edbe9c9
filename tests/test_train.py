import json

import pytest
import torch

from daekit.checkpoint import load_checkpoint
from daekit.config import resolve_config
from daekit.errors import DaekitError
from daekit.train import fit

from conftest import tiny_sets


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dae_learns_to_denoise(tmp_path):
    # MSE: its loss falls towards 0 (BCE's has the targets' entropy as its floor)
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=15", "data.resize=16", "train.loss=mse"))
    r = fit(cfg, progress=False)
    h = r.history
    assert h[-1]["train_loss"] < 0.5 * h[0]["train_loss"]
    assert r.best["psnr"] > h[-1]["val_noisy_psnr"] + 3  # well above the corrupted input
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == list(range(1, 16))
    assert (tmp_path / "r" / "config.yaml").exists()
    assert resolve_config(tmp_path / "r" / "config.yaml") == cfg


def test_compression_ae_is_the_same_path(tmp_path):
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "noise=none", "train.epochs=6", "train.loss=bce", model="model.name=dense"))
    r = fit(cfg, progress=False)
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    assert r.history[0]["val_noisy_psnr"] == float("inf") or r.history[0]["val_noisy_psnr"] > 100
    # the files other tools read are strict JSON: the infinite PSNR of an input without noise is null
    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} written"))
    rows = [strict(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["val_noisy_psnr"] is None or rows[0]["val_noisy_psnr"] > 100
    strict((tmp_path / "r" / "checkpoints" / "best.json").read_text())


def test_the_psnr_loss_is_minus_the_mean_per_patch_psnr_and_weighs_every_patch_alike(tmp_path):
    from daekit.train import psnr_loss

    target = torch.zeros(2, 1, 4, 4)
    out = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.01)])  # 20 dB and 40 dB
    assert abs(float(psnr_loss(out, target)) + 30.0) < 0.03  # (the 60 dB floor costs the 40 dB patch 0.04 dB)
    out.requires_grad_(True)
    psnr_loss(out, target).backward()
    g = out.grad.abs().flatten(1).mean(dim=1)
    assert torch.allclose(g[1] / g[0], torch.tensor(10.0), rtol=0.02)  # MSE would weigh the 20 dB patch 10x more
    r = fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=4", "data.resize=16", "train.loss=psnr")),
            progress=False)
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"] < 0  # it learns
    assert r.history[-1]["val_psnr"] > r.history[0]["val_psnr"]


@pytest.mark.parametrize("extra", [[], ["train.loss=l1", "train.optimizer=adamw", "train.schedule=step", "train.warmup_epochs=1"]])
def test_same_seed_same_weights(tmp_path, extra):
    a = fit(resolve_config(sets=tiny_sets(tmp_path / "a", *extra)), progress=False)
    b = fit(resolve_config(sets=tiny_sets(tmp_path / "b", *extra)), progress=False)
    c = fit(resolve_config(sets=tiny_sets(tmp_path / "c", "seed=1", *extra)), progress=False)
    assert same(weights(a.model), weights(b.model))
    assert not same(weights(a.model), weights(c.model))


@pytest.mark.parametrize("extra", [(), ("data.noisy_once=gaussian:50", "data.noisy_copies=2", "noise=none", "train.target=noise2noise"),
                                   ("data.noisy_once=gaussian:50", "noise=none", "train.target=blind-spot"),
                                   ("data.noisy_once=gaussian:50", "noise=none", "train.target=neighbor2neighbor")],
                         ids=["clean", "noise2noise-pairs", "blind-spot", "neighbor2neighbor"])
def test_resume_continues_exactly(tmp_path, extra):
    sets = tiny_sets(tmp_path / "full", "train.epochs=4", *extra)
    full = fit(resolve_config(sets=sets), progress=False)
    sets = tiny_sets(tmp_path / "split", "train.epochs=4", *extra)
    fit(resolve_config(sets=sets), progress=False, stop_after=2)  # "killed" after epoch 2
    assert load_checkpoint(tmp_path / "split" / "checkpoints" / "last.safetensors").info["epoch"] == 2
    resumed = fit(resolve_config(sets=sets), progress=False, resume=True)
    last_full = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.safetensors").state_dict
    last_split = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.safetensors").state_dict
    assert same(last_full, last_split)
    assert [h["train_loss"] for h in full.history] == [h["train_loss"] for h in resumed.history]
    assert len((tmp_path / "split" / "metrics.jsonl").read_text().splitlines()) == 4


def test_resume_refuses_a_changed_config(tmp_path):
    sets = tiny_sets(tmp_path / "r", "train.epochs=2")
    fit(resolve_config(sets=sets), progress=False)
    with pytest.raises(DaekitError, match="cannot resume: model.name is 'dense'"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=2", model="model.name=dense")), progress=False, resume=True)
    with pytest.raises(DaekitError, match="cannot resume: train.lr"):
        fit(resolve_config(sets=[*sets, "train.lr=0.1"]), progress=False, resume=True)
    more = fit(resolve_config(sets=[*sets, "train.epochs=3"]), progress=False, resume=True)  # more epochs is fine
    assert [h["epoch"] for h in more.history] == [1, 2, 3]


def test_existing_run_is_not_overwritten(tmp_path):
    sets = tiny_sets(tmp_path / "r", "train.epochs=1")
    fit(resolve_config(sets=sets), progress=False)
    before = (tmp_path / "r" / "checkpoints" / "best.safetensors").read_bytes()
    with pytest.raises(DaekitError, match="already holds a run"):
        fit(resolve_config(sets=sets), progress=False)
    assert (tmp_path / "r" / "checkpoints" / "best.safetensors").read_bytes() == before
    with pytest.raises(DaekitError, match="nothing to resume"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "other")), progress=False, resume=True)


def test_early_stopping(tmp_path):
    # lr 0 never improves after the first epoch, so patience 2 stops at epoch 3
    r = fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=10", "train.patience=2", "train.lr=1e-12", "train.schedule=none")), progress=False)
    assert len(r.history) == 3


def test_divergence_is_reported(tmp_path):
    with pytest.raises(DaekitError, match="diverged"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.lr=1e30", "train.schedule=none", "model.args.out_act=none")), progress=False)


def test_unavailable_device(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(DaekitError, match="CUDA is not available"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.device=cuda")), progress=False)


def test_overwrite_with_a_bad_config_keeps_the_old_run(tmp_path):
    sets = tiny_sets(tmp_path / "r", "train.epochs=1")
    fit(resolve_config(sets=sets), progress=False)
    before = (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes()
    with pytest.raises(DaekitError, match="unknown model"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", model="model.name=resnet")), progress=False, overwrite=True)
    assert (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes() == before


def test_init_starts_from_trained_weights(tmp_path):
    a = fit(resolve_config(sets=tiny_sets(tmp_path / "a")), progress=False)
    init = f"train.init={tmp_path / 'a'}"
    b = fit(resolve_config(sets=tiny_sets(tmp_path / "b", init)), progress=False, stop_after=0)  # no training at all
    assert same(weights(b.model), weights(a.model))
    c = fit(resolve_config(sets=tiny_sets(tmp_path / "c", init, "train.epochs=1", "train.lr=1e-4")), progress=False)
    fresh = fit(resolve_config(sets=tiny_sets(tmp_path / "d", "train.epochs=1", "train.lr=1e-4")), progress=False)
    assert c.best["psnr"] > fresh.best["psnr"] + 1  # fine-tuning starts where `a` ended, not from scratch
    assert resolve_config(tmp_path / "c" / "config.yaml").train.init == str(tmp_path / "a")


def test_init_refuses_another_architecture_and_keeps_the_old_run(tmp_path):
    fit(resolve_config(sets=tiny_sets(tmp_path / "a")), progress=False)
    fit(resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=1")), progress=False)
    before = (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes()
    wider = tiny_sets(tmp_path / "r", f"train.init={tmp_path / 'a'}", model="model.args={channels: [16, 8]}")
    with pytest.raises(DaekitError, match=r"train.init: .* another architecture .*channels \[8, 8\] vs \[16, 8\]"):
        fit(resolve_config(sets=wider), progress=False, overwrite=True)
    with pytest.raises(DaekitError, match="model not found"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", f"train.init={tmp_path / 'missing'}")), progress=False, overwrite=True)
    not_a_checkpoint = tmp_path / "x.safetensors"
    not_a_checkpoint.write_bytes(b"\x00" * 100)
    with pytest.raises(DaekitError):
        fit(resolve_config(sets=tiny_sets(tmp_path / "r", f"train.init={not_a_checkpoint}")), progress=False, overwrite=True)
    assert (tmp_path / "r" / "checkpoints" / "last.safetensors").read_bytes() == before


def test_init_carries_weights_to_another_dilation():
    # dilation holds no weights: a dilated network starts from a plain one of the same depth and width
    from daekit.models import create_model
    from daekit.train import init_weights

    m = create_model("residual", 3, depth=17, width=64, batch_norm=True, dilation=[1, 1] + [2, 3] * 7 + [1])
    init_weights(m, "photo-real")
    plain = create_model("residual", 3, depth=17, width=64, batch_norm=True)
    init_weights(plain, "photo-real")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), plain.state_dict().values()))


def test_init_from_a_shipped_model():
    from daekit.models import create_model
    from daekit.train import init_weights

    m = create_model("unet", levels=2, width=16)
    info = init_weights(m, "mnist")
    assert info["epoch"] >= 1
    with pytest.raises(DaekitError, match="width 16 vs 8"):
        init_weights(create_model("unet", levels=2, width=8), "mnist")


def test_documented_fine_tuning_examples_fit_the_shipped_photo_model():
    """The CLI help, the guide and the fine-tuning template name photo-gray's architecture by hand:
    they must still match the shipped weights after a retrain changes them."""
    import re
    from pathlib import Path

    import yaml

    from daekit.cli import EPILOG
    from daekit.models import create_model
    from daekit.train import init_weights

    root = Path(__file__).resolve().parents[1]
    texts = {"cli": EPILOG, "guide": (root / "docs" / "guide.md").read_text()}
    for where, text in texts.items():
        found = re.findall(r'--set "model\.args=(\{[^}]*\})" --init photo-gray', text)
        assert found, where
        for args in found:
            init_weights(create_model("residual", **yaml.safe_load(args)), "photo-gray")
    template = resolve_config(root / "configs" / "photo-gray-finetune.yaml")
    assert template.train.init == "photo-gray"
    init_weights(create_model(template.model.name, **template.model.args), "photo-gray")


def test_gray_weights_start_a_colour_model_that_matches_them_on_gray_input():
    from daekit.models import create_model
    from daekit.train import init_weights

    for shipped, unshuffle in (("photo-gray", 1), ("photo-gray-fast", 2)):
        args = dict(image_size=(32, 32), depth=17, width=64, unshuffle=unshuffle, batch_norm=True)
        color, gray = create_model("residual", in_channels=3, **args), create_model("residual", in_channels=1, **args)
        init_weights(color, shipped)
        init_weights(gray, shipped)
        x = torch.rand(2, 1, 24, 24)
        with torch.no_grad():
            assert torch.allclose(color.eval()(x.expand(2, 3, 24, 24)), gray.eval()(x).expand(2, 3, 24, 24), atol=1e-5)
    wrong = create_model("residual", in_channels=3, image_size=(32, 32), depth=5, width=16)
    with pytest.raises(DaekitError, match="another architecture"):
        init_weights(wrong, "photo-gray")
