"""Training without clean images: Noise2Noise and blind-spot targets (daekit.targets)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_sets
from daekit.config import resolve_config
from daekit.errors import DaekitError
from daekit.noise import make_generator
from daekit.targets import hide_pixels, make_step, masked_loss
from daekit.train import fit


def test_hidden_pixels_take_a_neighbours_value_never_their_own():
    x = torch.arange(2 * 3 * 20 * 24, dtype=torch.float32).view(2, 3, 20, 24)  # every value distinct
    hidden, mask = hide_pixels(x, 0.1, make_generator(0))
    assert mask.shape == (2, 1, 20, 24) and 0.05 < mask.float().mean() < 0.15
    changed = hidden != x
    assert torch.equal(changed, mask.expand_as(x))  # exactly the masked positions, in every channel
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    for y, xx in zip(ys.tolist(), xs.tolist()):
        v = hidden[0, 0, y, xx]
        window = x[0, 0, max(0, y - 2) : y + 3, max(0, xx - 2) : xx + 3]
        assert (window == v).any() and v != x[0, 0, y, xx]  # from its 5x5 neighbourhood, not itself
        sy, sx = divmod(int(v.item()) - 0, 24)
        assert sy % 20 == sy and abs(sy - y) <= 2 and abs(sx - xx) <= 2
    assert (hidden[:, 1] - hidden[:, 0] == 480).all()  # the same stand-in position in every channel
    again, mask2 = hide_pixels(x, 0.1, make_generator(0))
    assert torch.equal(again, hidden) and torch.equal(mask2, mask)  # same seed, same draw


def test_the_loss_of_a_blind_spot_step_sees_only_the_hidden_pixels():
    out, target = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    mask[0, 0, 1, 2] = True
    target[0, 0, 1, 2] = 3.0
    assert masked_loss(F.mse_loss)(out, target, mask).item() == pytest.approx(9.0)
    assert masked_loss(F.mse_loss)(out, target, None).item() == pytest.approx(F.mse_loss(out, target).item())


def test_no_step_shows_the_model_a_clean_image():
    from daekit.noise import parse_noise

    clean = torch.rand(4, 1, 16, 16)
    noise = parse_noise("gaussian:25")
    g = make_generator(1)
    noisy = noise(clean, g)
    for target in ("noise2noise", "blind-spot"):
        inp, tgt, mask = make_step(target, noise, 0.05)(clean, noisy, g)
        assert not torch.equal(tgt, clean) and not torch.equal(inp, clean)
    inp, tgt, mask = make_step("blind-spot", noise, 0.05)(clean, noisy, g)
    assert torch.equal(tgt, noisy) and mask is not None  # its own noisy values, at the hidden pixels


@pytest.mark.parametrize("target", ["noise2noise", "blind-spot"])
def test_learning_from_noisy_images_alone_denoises(tmp_path, target):
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "data.resize=16", "train.epochs=12", f"train.target={target}",
                                        "train.mask_fraction=0.1", model="model.args={channels: [16, 16]}"))
    r = fit(cfg, progress=False)
    assert r.best["psnr"] > r.history[-1]["val_noisy_psnr"] + 2, r.history[-1]


def test_targets_that_cannot_work_are_refused_in_one_line(tmp_path):
    with pytest.raises(DaekitError, match="needs a convolutional model"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "a", "train.target=blind-spot", model="model.name=dense")), progress=False)
    with pytest.raises(DaekitError, match="bce needs clean targets"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "b", "train.target=noise2noise", "train.loss=bce")), progress=False)
    with pytest.raises(DaekitError, match="train.target"):
        resolve_config(sets=["train.target=noise2void"])
    with pytest.raises(DaekitError, match="mask_fraction"):
        resolve_config(sets=["train.mask_fraction=0"])


def test_a_run_saved_before_a_setting_existed_still_resumes():
    from daekit.config import Config, config_to_dict
    from daekit.train import _check_resumable

    saved = config_to_dict(Config())
    del saved["train"]["target"], saved["train"]["mask_fraction"]  # as a checkpoint of an earlier version holds it
    _check_resumable(saved, Config())  # no "changed" refusal for settings the old run could not have had
    saved["train"]["lr"] = 0.5
    with pytest.raises(DaekitError, match="cannot resume"):
        _check_resumable(saved, Config())


def test_noisy_once_data_hold_one_fixed_noisy_copy_and_clean_tests(tmp_path):
    import cv2
    import numpy as np

    from daekit.data import load_dataset

    a = load_dataset("digits", noisy_once="gaussian:25")
    b = load_dataset("digits", noisy_once="gaussian:25")
    clean = load_dataset("digits")
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, clean.train)
    assert torch.equal(a.test, clean.test)  # references stay clean
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), (np.random.default_rng(i).random((70, 70)) * 255).astype(np.uint8))
    f1 = load_dataset("images", tmp_path, noisy_once="gaussian:25", val_fraction=0.25)
    f2 = load_dataset("images", tmp_path, noisy_once="gaussian:25", val_fraction=0.25)
    plain = load_dataset("images", tmp_path, val_fraction=0.25)
    assert np.array_equal(f1.folder.get(0), f2.folder.get(0)) and f1.folder.get(0).dtype == np.float32
    noise = f1.folder.get(0) - plain.folder.get(0).astype(np.float32) / 255
    assert 20 / 255 < noise.std() < 30 / 255  # sigma 25 on the 0-255 scale, drawn once
    assert not torch.equal(f1.val[0], plain.val[0])


def test_the_guides_noisy_folder_commands_run(tmp_path, capsys):
    """docs/guide.md: `daekit train --data images --data-dir noisy_photos/ --noise none --target blind-spot --out
    runs/mine`, then `daekit denoise --model runs/mine noisy.png -o clean.png` (small: 1 short epoch)."""
    import cv2
    import numpy as np

    from daekit.cli import main

    photos = tmp_path / "noisy_photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        clean = np.tile(np.linspace(40, 200, 96), (96, 1))
        cv2.imwrite(str(photos / f"{i}.png"), np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8))
    run = tmp_path / "runs" / "mine"
    assert main(["train", "--data", "images", "--data-dir", str(photos), "--noise", "none", "--target", "blind-spot",
                 "--out", str(run), "--epochs", "1", "--set", "data.patches_per_epoch=256", "--quiet"]) == 0
    assert main(["denoise", "--model", str(run), str(photos / "0.png"), "-o", str(tmp_path / "clean.png")]) == 0
    assert cv2.imread(str(tmp_path / "clean.png"), cv2.IMREAD_UNCHANGED).shape == (96, 96)
