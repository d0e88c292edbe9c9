"""Training without clean images: Noise2Noise, Neighbor2Neighbor and blind-spot targets (daekit.targets)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_sets
from daekit.config import resolve_config
from daekit.errors import DaekitError
from daekit.noise import make_generator
from daekit.seeding import derive_seed
from daekit.targets import NeighbourStep, hide_pixels, make_step, masked_loss, neighbour_choice, sub_images
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
    for target in ("noise2noise", "blind-spot", "neighbor2neighbor"):
        step = make_step(target, noise, 0.05, forward=lambda x: x)
        step.progress = 0.5
        inp, tgt, mask = step(clean, noisy, g)
        assert not torch.equal(tgt, clean) and not torch.equal(inp, clean)
    inp, tgt, mask = make_step("blind-spot", noise, 0.05)(clean, noisy, g)
    assert torch.equal(tgt, noisy) and mask is not None  # its own noisy values, at the hidden pixels


@pytest.mark.parametrize("target,model", [("noise2noise", "model.args={channels: [16, 16]}"),
                                          ("blind-spot", "model.args={channels: [16, 16]}"),
                                          ("neighbor2neighbor", "model.name=unet")])  # the sigmoid conv AE sticks at 0 here
def test_learning_from_noisy_images_alone_denoises(tmp_path, target, model):
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "data.resize=16", "train.epochs=12", f"train.target={target}",
                                        "train.mask_fraction=0.1", model=model))
    r = fit(cfg, progress=False)
    assert r.best["psnr"] > r.history[-1]["val_noisy_psnr"] + 2, r.history[-1]


def test_a_saturated_sigmoid_output_is_named_with_the_way_out(tmp_path, capsys):
    """The default conv model (sigmoid output) trained neighbor2neighbor on digits sticks at 0: the warning says
    so and names a model that works, where "train longer" would not help."""
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "train.target=neighbor2neighbor", "data.name=digits28", "data.limit=1000",
                                        "train.epochs=1", "train.lr=1e-3", "train.batch_size=16", model="model.args={}"))
    fit(cfg, progress=True)
    out = capsys.readouterr().out
    assert "did not learn" in out and "sigmoid output is saturated" in out and "--model unet" in out, out


def test_the_warning_of_a_run_that_did_not_learn_works_on_a_folder_of_photos(tmp_path, capsys):
    """Whole photos are validated one by one ((1, C, H, W) each): the saturation check once made that a 5-D batch
    and stopped `daekit train --data images --model conv` with an error after its last epoch."""
    import numpy as np

    from daekit.images import write_image

    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(tmp_path / "photos" / f"p{i}.png", rng.random((40 + 4 * i, 48, 3)).astype(np.float32))
    cfg = resolve_config(sets=[f"out={tmp_path / 'r'}", "data.name=images", f"data.dir={tmp_path / 'photos'}",
                               "data.patch_size=16", "data.patches_per_epoch=32", "model.args={channels: [4, 4]}",
                               "train.epochs=1", "train.batch_size=16", "noise=gaussian:25"])
    r = fit(cfg, progress=True)  # random pixels: nothing to learn, so the warning is printed
    out = capsys.readouterr().out
    assert r.history and "did not learn" in out, out


def test_targets_that_cannot_work_are_refused_in_one_line(tmp_path):
    with pytest.raises(DaekitError, match="needs a convolutional model"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "a", "train.target=blind-spot", model="model.name=dense")), progress=False)
    with pytest.raises(DaekitError, match="neighbor2neighbor needs a convolutional model"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "a2", "train.target=neighbor2neighbor", model="model.name=dense")), progress=False)
    with pytest.raises(DaekitError, match="bce needs clean targets"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "b", "train.target=noise2noise", "train.loss=bce")), progress=False)
    with pytest.raises(DaekitError, match="train.target"):
        resolve_config(sets=["train.target=noise2void"])
    with pytest.raises(DaekitError, match="mask_fraction"):
        resolve_config(sets=["train.mask_fraction=0"])
    with pytest.raises(DaekitError, match="neighbour_gamma"):
        resolve_config(sets=["train.neighbour_gamma=-1"])


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
    """docs/guide.md, "Training without clean images": train on a noisy folder, denoise, report, evaluate on clean
    images, and fine-tune the shipped photo-gray without references, as written (small: short epochs)."""
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
    assert main(["train", "--data", "images", "--data-dir", str(photos), "--noise", "none", "--target", "neighbor2neighbor",
                 "--model", "unet", "--set", "data.patch_size=128", "--out", str(run), "--epochs", "1",
                 "--set", "data.patches_per_epoch=256", "--quiet"]) == 0
    assert main(["denoise", "--model", str(run), str(photos / "0.png"), "-o", str(tmp_path / "ne2ne.png")]) == 0
    assert cv2.imread(str(tmp_path / "ne2ne.png"), cv2.IMREAD_UNCHANGED).shape == (96, 96)  # that it learns: the tests above
    assert main(["train", "--data", "images", "--data-dir", str(photos), "--noise", "none", "--target", "blind-spot",
                 "--out", str(tmp_path / "runs" / "mine-n2v"), "--epochs", "1", "--set", "data.patches_per_epoch=256",
                 "--quiet"]) == 0
    run = tmp_path / "runs" / "mine-n2v"  # the rest as before, on the blind-spot run
    assert main(["denoise", "--model", str(run), str(photos / "0.png"), "-o", str(tmp_path / "clean.png")]) == 0
    assert cv2.imread(str(tmp_path / "clean.png"), cv2.IMREAD_UNCHANGED).shape == (96, 96)
    assert main(["report", str(run)]) == 0 and (run / "report.html").exists()
    clean_photos = tmp_path / "clean_photos"
    clean_photos.mkdir()
    cv2.imwrite(str(clean_photos / "a.png"), np.tile(np.linspace(40, 200, 96), (96, 1)).astype(np.uint8))
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run), "--data", "images", "--data-dir", str(clean_photos), "--noise", "gaussian:25"]) == 0
    assert "gaussian:25" in capsys.readouterr().out
    # adapting the shipped photo-gray to the noisy photos without references (small: a few steps)
    ft = tmp_path / "runs" / "mine-ft"
    assert main(["train", "--config", "configs/photo-gray-finetune.yaml", "--data", "images", "--data-dir", str(photos),
                 "--noise", "none", "--target", "blind-spot", "--epochs", "1", "--out", str(ft), "--quiet",
                 "--set", "data.patches_per_epoch=64", "--set", "train.batch_size=16", "--set", "data.val_fraction=0.25"]) == 0
    import json

    row = json.loads((ft / "metrics.jsonl").read_text().splitlines()[0])
    assert row["val_reference"] == "noisy" and row["val_psnr"] > row["val_noisy_psnr"]  # it starts as a denoiser


def _bursts(root, scenes=6, shots=3, size=48, sigma=20.0):
    """Folders of noisy shots of still scenes (smooth gradients plus a square), each a burst; returns the clean scenes."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    clean = []
    for s in range(scenes):
        yy, xx = np.mgrid[0:size, 0:size]
        img = 60 + 120 * (xx / size) * (0.5 + s / scenes) + 50 * ((abs(yy - 24) < 8 + s) & (abs(xx - 20) < 10))
        clean.append(img)
        d = root / f"scene{s}"
        d.mkdir(parents=True)
        for k in range(shots + (s == 0)):  # one scene has a shot more: the fewest any scene has are used
            cv2.imwrite(str(d / f"{k}.png"), np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8))
    return clean


def test_noisy_copies_stack_independent_draws_and_copy_0_is_the_single_draw(tmp_path):
    import cv2
    import numpy as np

    from daekit.data import load_dataset

    one = load_dataset("digits", noisy_once="gaussian:25")
    two = load_dataset("digits", noisy_once="gaussian:25", noisy_copies=2)
    assert two.frames == 2 and two.channels == 1 and two.train.shape[1] == 2 and two.val.shape[1] == 2
    assert torch.equal(two.train[:, :1], one.train) and not torch.equal(two.train[:, 1:], one.train)
    assert two.test.shape[1] == 1  # the test images stay single and clean
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), (np.random.default_rng(i).random((70, 70)) * 255).astype(np.uint8))
    f1 = load_dataset("images", tmp_path, noisy_once="gaussian:25", val_fraction=0.25)
    f2 = load_dataset("images", tmp_path, noisy_once="gaussian:25", val_fraction=0.25, noisy_copies=3)
    assert f2.frames == 3 and f2.channels == 1 and f2.folder.get(0).shape == (70, 70, 3) and f2.val[0].shape[1] == 3
    assert np.array_equal(f2.folder.get(0)[..., :1], f1.folder.get(0))
    d = f2.folder.get(0)
    assert abs(np.corrcoef((d[..., 1] - d[..., 0]).ravel(), (d[..., 2] - d[..., 0]).ravel())[0, 1] - 0.5) < 0.1  # independent draws


def test_bursts_are_read_as_scenes_of_registered_shots(tmp_path):
    import cv2
    import numpy as np

    from daekit.data import load_dataset

    _bursts(tmp_path / "b")
    cv2.imwrite(str(tmp_path / "b" / "lonely.png"), np.zeros((48, 48), np.uint8))  # not in a burst: left out
    d = load_dataset("images", tmp_path / "b", bursts=True, val_fraction=0.2, patch_size=32, patches_per_epoch=64)
    assert d.frames == 3 and d.channels == 1 and len(d.folder) + len(d.val) == 6
    assert d.folder.get(0).shape == (48, 48, 3) and "scene(s) of 3 noisy shots" in d.summary()
    batch = next(iter(d.loader(8, 0, torch.device("cpu"))))
    assert batch.shape == (8, 3, 32, 32)
    same_place = batch[:, 0] - batch[:, 1]  # two shots of one scene cut at the same place differ by noise only
    assert same_place.abs().mean() < 0.15 and same_place.mean().abs() < 0.02
    cv2.imwrite(str(tmp_path / "b" / "scene1" / "0.png"), np.zeros((40, 48), np.uint8))
    with pytest.raises(DaekitError, match="shots differ in size"):
        load_dataset("images", tmp_path / "b", bursts=True, val_fraction=0.0, patch_size=32).folder.get(1)
    (tmp_path / "flat").mkdir()
    cv2.imwrite(str(tmp_path / "flat" / "a.png"), np.zeros((48, 48), np.uint8))
    with pytest.raises(DaekitError, match="no folder under .* holds two or more images"):
        load_dataset("images", tmp_path / "flat", bursts=True)


def test_noise2noise_learns_from_real_bursts_and_validates_without_references(tmp_path, capsys):
    import numpy as np

    from daekit.api import Denoiser
    from daekit.cli import main

    clean = _bursts(tmp_path / "b", scenes=8)
    run = tmp_path / "run"
    assert main(["train", "--data", "images", "--data-dir", str(tmp_path / "b"), "--noise", "none", "--target", "noise2noise",
                 "--out", str(run), "--epochs", "6", "--set", "data.bursts=true", "--set", "data.patch_size=32",
                 "--set", "data.patches_per_epoch=2048", "--set", "data.val_fraction=0.25", "--set", "train.lr=3e-3",
                 "--set", "model.args={channels: [16, 16]}", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best validation score" in out and "PSNR needs them" in out
    import json

    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["val_reference"] == "noisy" and r["val_ssim"] is None for r in rows)
    assert max(r["val_psnr"] for r in rows) > rows[-1]["val_noisy_psnr"] + 1  # beats one shot against another
    den = Denoiser.load(run)
    rng = np.random.default_rng(9)
    c = clean[0] / 255.0
    noisy = np.clip(c + rng.normal(0, 20 / 255, c.shape), 0, 1).astype(np.float32)
    mse = lambda a: float(np.mean((a - c) ** 2))  # noqa: E731
    assert mse(den.denoise_image(noisy[..., None])[..., 0]) < mse(noisy) / 2  # it denoises, never having seen a clean image


def test_the_self_supervised_score_ranks_denoisers_as_the_true_error_does():
    from daekit.noise import parse_noise
    from daekit.targets import self_supervised_scores

    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    clean = (0.3 + 0.4 * torch.sin(xx / 9) * torch.cos(yy / 13)).expand(8, 1, 64, 64).contiguous()
    noisy = parse_noise("gaussian:40")(clean, make_generator(3))

    def box(k: int) -> torch.nn.Module:
        m = torch.nn.Conv2d(1, 1, k, padding=k // 2, padding_mode="reflect", bias=False)
        torch.nn.init.constant_(m.weight, 1.0 / k**2)
        return m

    models = {k: box(k) for k in (1, 3, 5, 9, 21)}  # 1: the identity
    true = {k: -float(((m(noisy).detach().clamp(0, 1) - clean) ** 2).mean()) for k, m in models.items()}
    score = {k: self_supervised_scores(m, noisy, "blind-spot", 0.05, 1, seed=0)["psnr"] for k, m in models.items()}
    assert sorted(models, key=true.get) == sorted(models, key=score.get), (true, score)
    pair = torch.cat([noisy, parse_noise("gaussian:40")(clean, make_generator(4))], dim=1)
    n2n = {k: self_supervised_scores(m, pair, "noise2noise", 0.05, 2, seed=0)["psnr"] for k, m in models.items()}
    assert sorted(models, key=true.get) == sorted(models, key=n2n.get), (true, n2n)
    # neighbor2neighbor scores the model on half-size sub-images (what it trains on; a 5-pixel box there is a
    # 10-pixel one at full size) against the neighbouring sub-image, one pixel off: close calls can swap (it
    # leans to smoothing), clear ones do not
    choice = neighbour_choice(noisy, make_generator(derive_seed(0, 0), "cpu"))
    (sub_noisy, _), (sub_clean, _) = sub_images(noisy, choice), sub_images(clean, choice)
    true_sub = {k: -float(((m(sub_noisy).detach().clamp(0, 1) - sub_clean) ** 2).mean()) for k, m in models.items()}
    ne2ne = {k: self_supervised_scores(m, noisy, "neighbor2neighbor", 0.05, 1, seed=0)["psnr"] for k, m in models.items()}
    assert max(models, key=true_sub.get) == max(models, key=ne2ne.get) == 5, (true_sub, ne2ne)
    assert sorted(models, key=ne2ne.get)[:2] == sorted(models, key=true_sub.get)[:2] == [21, 1], (true_sub, ne2ne)


def test_noisy_data_are_not_scored_against_themselves(tmp_path):
    """A noisy_once run validates self-supervised: scoring the output against the noisy image itself would
    make the identity the best checkpoint."""
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "data.noisy_once=gaussian:50", "noise=none", "train.target=blind-spot",
                                        "data.resize=16", "train.mask_fraction=0.1", "train.epochs=2"))
    r = fit(cfg, progress=False)
    assert r.history[-1]["val_reference"] == "noisy" and r.best["ssim"] is None


def test_data_and_targets_that_do_not_fit_together_are_refused(tmp_path):
    with pytest.raises(DaekitError, match="noisy_copies 2 needs data.noisy_once"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "a", "data.noisy_copies=2")), progress=False)
    with pytest.raises(DaekitError, match="data.bursts needs a folder"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "b", "data.bursts=true")), progress=False)
    with pytest.raises(DaekitError, match="no clean one: train with --target noise2noise"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "c", "data.noisy_once=gaussian:25", "data.noisy_copies=2")), progress=False)
    with pytest.raises(DaekitError, match="needs two noisy shots"):
        fit(resolve_config(sets=tiny_sets(tmp_path / "d", "data.noisy_once=gaussian:25", "noise=none",
                                          "train.target=noise2noise")), progress=False)
    with pytest.raises(DaekitError, match="noisy_copies"):
        resolve_config(sets=["data.noisy_copies=0"])


def test_evaluate_measures_a_noisy_once_run_against_clean_images_with_its_noise(tmp_path, capsys):
    from daekit.api import Denoiser, evaluate_on
    from daekit.cli import main

    run = tmp_path / "r"
    fit(resolve_config(sets=tiny_sets(run, "data.noisy_once=gaussian:50", "noise=none", "train.target=blind-spot",
                                      "train.mask_fraction=0.1", "train.epochs=2")), progress=False)
    den = Denoiser.load(run)
    for split in ("test", "val"):  # the validation images, clean this time: the same split by the seed
        res = evaluate_on(den, split=split)
        assert res["noise"] == "gaussian:50" and 5 < res["noisy_psnr"] < 20 and 5 < res["psnr"] < 60, res  # vs clean images
    assert main(["evaluate", "--model", str(run), "--noise", "gaussian:25"]) == 0
    assert "gaussian:25" in capsys.readouterr().out
    run2 = tmp_path / "r2"
    fit(resolve_config(sets=tiny_sets(run2, "data.resize=16", "noise=none", "train.target=blind-spot", "train.epochs=1")), progress=False)
    with pytest.raises(DaekitError, match="learned from noisy images .*--noise gaussian:25"):
        evaluate_on(Denoiser.load(run2))


def test_the_report_of_a_run_without_references_shows_what_was_removed_and_no_psnr(tmp_path, capsys):
    import cv2
    import numpy as np

    from daekit.cli import main

    photos = tmp_path / "noisy"
    photos.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:96]
    for i in range(5):
        clean = 60 + 100 * ((xx // (12 + i) + yy // 16) % 2)  # edges for the residual check to look at
        cv2.imwrite(str(photos / f"{i}.png"), np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8))
    run = tmp_path / "run"
    assert main(["train", "--data", "images", "--data-dir", str(photos), "--noise", "none", "--target", "blind-spot",
                 "--out", str(run), "--epochs", "2", "--set", "data.patches_per_epoch=512", "--set", "data.val_fraction=0.4",
                 "--quiet"]) == 0
    assert f"daekit report {run}" in capsys.readouterr().out
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "No clean reference" in md and "PSNR and SSIM compare an output with the clean image" in md
    assert "| residual sigma | residual lag-1 | edge correlation |" in md
    assert "PSNR output" not in md and (run / "figures" / "images.png").stat().st_size > 1000
    html = (run / "report.html").read_text()
    assert "<strong>No clean reference.</strong>" in html and "**" not in html
    rows = [r for r in md.splitlines() if r.startswith("| 1 ") or r.startswith("| 2 ")]
    assert len(rows) == 2
    sigma_est = float(rows[0].split("|")[2])
    assert 12 < sigma_est < 28  # sigma 20 noise, estimated from the noisy image alone


def test_the_report_of_a_run_with_references_shows_psnr(tmp_path):
    from daekit.run_report import build_run_report

    run = tmp_path / "r"
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=2")), progress=False)
    _, md = build_run_report(run)
    text = md.read_text()
    assert "No clean reference" not in text and "PSNR output" in text and "clean, input, output, residual" in text


def test_the_median_fill_is_the_neighbourhoods_median_without_the_pixel():
    x = torch.rand(1, 2, 9, 9, generator=torch.Generator().manual_seed(0))
    hidden, mask = hide_pixels(x, 0.3, make_generator(0), fill="median")
    assert torch.equal(hidden != x, mask.expand_as(x) & (hidden != x))  # only hidden pixels change
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    y, xx = next((a, b) for a, b in zip(ys.tolist(), xs.tolist()) if 2 <= a <= 6 and 2 <= b <= 6)  # away from the border
    ring = x[0, 1, y - 2 : y + 3, xx - 2 : xx + 3].flatten()
    ring = torch.cat([ring[:12], ring[13:]])
    assert hidden[0, 1, y, xx] == ring.median()
    with pytest.raises(DaekitError, match="mask_fill"):
        hide_pixels(x, 0.3, make_generator(0), fill="mean")


def test_the_n2v2_unet_trains_blind_spot_and_keeps_any_image_size(tmp_path):
    from daekit.models import create_model

    net = create_model("unet", in_channels=1, pool="blur", top_skip=False, residual=False)
    for h, w in ((28, 28), (37, 50)):
        assert net(torch.rand(2, 1, h, w)).shape == (2, 1, h, w)
    with pytest.raises(DaekitError, match="pool must be max or blur"):
        create_model("unet", pool="avg")
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "data.resize=16", "train.epochs=8", "train.target=blind-spot",
                                        "train.mask_fraction=0.1", "train.mask_fill=median", "model.name=unet",
                                        model="model.args={pool: blur, top_skip: false, residual: false}"))
    r = fit(cfg, progress=False)
    assert r.best["psnr"] > r.history[-1]["val_noisy_psnr"] + 2, r.history[-1]


def test_pd_sub_images_are_denoised_independently_and_their_stand_ins_come_from_their_own_sub_image():
    from daekit.models import create_model

    net = create_model("unet", in_channels=1, pd=2, residual=False)
    assert net.geometry.multiple == 8 and net.spec["pd"] == 2
    assert net(torch.rand(1, 1, 30, 33)).shape == (1, 1, 30, 33)  # any size (padded at the far edges)
    x = torch.rand(1, 1, 30, 34, requires_grad=True)
    y = net(x)
    y[0, 0, 10, 11].backward()  # an output pixel of the sub-image of even rows, odd columns
    touched = torch.nonzero(x.grad[0, 0])
    assert len(touched) > 20 and (touched[:, 0] % 2 == 0).all() and (touched[:, 1] % 2 == 1).all()
    img = torch.arange(40 * 40, dtype=torch.float32).view(1, 1, 40, 40)
    for fill in ("neighbour", "median"):
        hidden, mask = hide_pixels(img, 0.2, make_generator(0), fill=fill, stride=2)
        ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
        src = hidden[0, 0, ys, xs].long()
        if fill == "neighbour":  # the stand-in's own position: same row and column parity
            assert ((src // 40 - ys) % 2 == 0).all() and ((src % 40 - xs) % 2 == 0).all() and (src != ys * 40 + xs).all()
    with pytest.raises(DaekitError, match="dense .* pd"):
        create_model("dense", pd=2)
    with pytest.raises(DaekitError, match="pd"):
        create_model("unet", pd=0)


def test_a_pd_model_trains_resumes_exports_and_starts_from_a_plain_models_weights(tmp_path):
    from daekit.api import Denoiser
    from daekit.checkpoint import load_checkpoint
    from daekit.export import export_model

    plain = tmp_path / "plain"
    fit(resolve_config(sets=tiny_sets(plain, "data.resize=24", "train.epochs=1", "model.name=unet",
                                      model="model.args={width: 8, levels: 1}")), progress=False)
    sets = tiny_sets(tmp_path / "pd", "data.resize=24", "train.epochs=2", "model.name=unet", "noise=none",
                     "data.noisy_once=gaussian:50", "train.target=blind-spot", f"train.init={plain}",
                     model="model.args={width: 8, levels: 1, pd: 2}")
    fit(resolve_config(sets=sets), progress=False, stop_after=1)
    first = load_checkpoint(tmp_path / "pd" / "checkpoints" / "last.safetensors").state_dict
    start = load_checkpoint(plain / "checkpoints" / "best.safetensors").state_dict
    assert all(k.startswith("inner.") for k in first) and set(first) == {"inner." + k for k in start}
    r = fit(resolve_config(sets=sets), progress=False, resume=True)
    assert [h["epoch"] for h in r.history] == [1, 2]
    den = Denoiser.load(tmp_path / "pd")
    out = den.denoise_image(torch.rand(37, 41, 1).numpy())
    assert out.shape == (37, 41, 1)
    rep = export_model(den, tmp_path / "pd.onnx")  # parity-checked against PyTorch on photos of several sizes
    assert (tmp_path / "pd.onnx").exists() and rep["dynamic_size"]


def test_neighbour_sub_images_take_two_adjacent_pixels_of_each_cell():
    x = torch.arange(2 * 3 * 9 * 12, dtype=torch.float32).view(2, 3, 9, 12)  # every value distinct; an odd last row
    choice = neighbour_choice(x, make_generator(0))
    assert choice.shape == (2, 4, 6)
    first, second = sub_images(x, choice)
    assert first.shape == second.shape == (2, 3, 4, 6)
    pos = {float(v): divmod(i % 108, 12) for i, v in enumerate(x.flatten().tolist())}
    for b in range(2):
        for i in range(4):
            for j in range(6):
                (y1, x1), (y2, x2) = pos[float(first[b, 0, i, j])], pos[float(second[b, 0, i, j])]
                assert {y1 // 2, y2 // 2} == {i} and {x1 // 2, x2 // 2} == {j}  # both from the cell, never the odd row
                assert abs(y1 - y2) + abs(x1 - x2) == 1  # adjacent, never the same pixel
    assert torch.equal(first[:, 1] - first[:, 0], torch.full_like(first[:, 0], 108))  # the same pixel in every channel
    assert set(choice.flatten().tolist()) == set(range(8))  # all eight ordered pairs occur
    assert torch.equal(choice, neighbour_choice(x, make_generator(0)))  # same seed, same draw
    with pytest.raises(DaekitError, match="at least 2x2"):
        neighbour_choice(torch.zeros(1, 1, 1, 8), make_generator(0))


def test_the_neighbour_regulariser_gives_the_published_gradient_through_one_target():
    noisy = torch.rand(4, 1, 8, 8)
    f = lambda x: 0.5 * x + 0.2  # noqa: E731  (a stand-in model)
    step = NeighbourStep(f, gamma=2.0)
    g = make_generator(1)
    first, target, mask = step(None, noisy, g)
    assert mask is None and first.shape == (4, 1, 4, 4)
    choice = neighbour_choice(noisy, make_generator(1))
    g1, g2 = sub_images(noisy, choice)
    assert torch.equal(first, g1) and torch.equal(target, g2)  # progress 0: plain sub-image pairs, no regulariser
    step.progress = 0.75  # weight 1.5
    first, target, _ = step(None, noisy, make_generator(1))
    f1, f2 = sub_images(f(noisy), choice)
    u = torch.rand_like(g1, requires_grad=True)
    published = ((u - g2) ** 2).sum() + 1.5 * ((u - g2 - (f1 - f2)) ** 2).sum()  # Huang et al. 2021, eq. (9)
    ours = 2.5 * ((u - target) ** 2).sum()
    (a,) = torch.autograd.grad(published, u)
    (b,) = torch.autograd.grad(ours, u)
    assert torch.allclose(a, b, atol=1e-5)


def test_the_neighbour_regulariser_runs_on_this_processes_rows_only():
    noisy = torch.rand(8, 1, 8, 8)
    seen = []

    def f(x):
        seen.append(len(x))
        return 0.5 * x

    whole = NeighbourStep(f, 2.0)
    part = NeighbourStep(f, 2.0, shard=slice(4, 8))
    whole.progress = part.progress = 0.5
    _, t_whole, _ = whole(None, noisy, make_generator(2))
    _, t_part, _ = part(None, noisy, make_generator(2))
    assert seen == [8, 4]  # the forward pass only for the shard under DDP
    assert torch.equal(t_whole[4:], t_part[4:])


def test_neighbor2neighbor_without_references_keeps_its_last_epoch(tmp_path, capsys):
    from daekit.checkpoint import load_checkpoint
    from daekit.cli import main

    run = tmp_path / "r"
    assert main(["train", "--data", "digits", "--model", "unet", "--noise", "none", "--target", "neighbor2neighbor",
                 "--set", "data.noisy_once=gaussian:50", "--set", "data.resize=16", "--epochs", "3", "--out", str(run),
                 "--quiet"]) == 0
    assert "kept the last epoch (3)" in capsys.readouterr().out
    best = load_checkpoint(run / "checkpoints" / "best.safetensors")
    last = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert best.info["epoch"] == 3 and all(torch.equal(best.state_dict[k], last.state_dict[k]) for k in best.state_dict)
    assert main(["report", str(run)]) == 0
    assert "keeping the last epoch (3)" in (run / "report.md").read_text()
