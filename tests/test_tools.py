"""Developer tools under tools/: they run on lent GPUs between sessions, so they are kept working here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, import_tool
from test_folder import _write_folder


def test_train_budget_trains_to_its_budget_and_scores_the_test_sets(tmp_path):
    data = tmp_path / "data"
    _write_folder(data / "bsd400", n=8)
    _write_folder(data / "set12", n=2, size=(40, 36), seed=1)
    _write_folder(data / "bsd68", n=1, size=(33, 41), seed=2)
    small = ["model.args.depth=3", "model.args.width=8", "data.patch_size=16", "data.patches_per_epoch=64",
             "train.batch_size=16", "data.val_fraction=0.25",
             f"out={tmp_path / 'elsewhere'}"]  # --out wins: on a lent GPU only what lands under $OUT comes back
    cmd = [sys.executable, str(ROOT / "tools" / "train_budget.py"), str(ROOT / "configs" / "photo-gray.yaml"),
           "--budget-s", "4", "--data-dir", str(data), "--out", str(tmp_path / "run"), "--device", "cpu"]
    for s in small:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    epochs = int(r.stdout.split(" epochs x 64")[0].rsplit("-> ", 1)[1])
    assert epochs >= 2  # the number the probe chose (the config says 45) is the number trained
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == epochs
    assert (tmp_path / "run" / "checkpoints" / "best.safetensors").exists()
    assert not (tmp_path / "elsewhere").exists()
    for name in ("set12", "bsd68"):
        for sigma in (15, 25, 50):
            assert f"test {name} sigma {sigma}: PSNR" in r.stdout


def test_noise_probe_keeps_the_spectra_when_it_redraws_the_structure_and_finds_a_shift():
    import numpy as np

    probe = import_tool("noise_probe")
    rng = np.random.default_rng(0)
    white = rng.normal(size=(64, 64, 1))
    noise = np.concatenate([white, 0.5 * white + rng.normal(size=(64, 64, 1)), np.roll(white, 1, axis=1)], axis=2)
    noise[:32] *= 3  # placed: three times as strong in the top half
    mixed = probe.phase_randomised(noise, 1)
    assert np.isrealobj(mixed) and mixed.shape == noise.shape
    spec = lambda z: np.fft.fft2(z, axes=(0, 1))  # noqa: E731
    a, b = spec(noise), spec(mixed)
    assert np.allclose(np.abs(a), np.abs(b))  # each channel's power spectrum kept
    assert np.allclose(a[..., 0] * np.conj(a[..., 1]), b[..., 0] * np.conj(b[..., 1]))  # and how the channels relate
    assert abs(mixed[:32].std() / mixed[32:].std() - 1) < 0.3  # but not where it lies
    # a reference half a pixel off its shot is moved back onto it
    import cv2

    g = cv2.GaussianBlur(rng.random((96, 96)).astype(np.float32), (0, 0), 1.5)
    scene = np.repeat(((g - g.min()) / (g.max() - g.min()))[..., None], 3, axis=2).astype(np.float64)
    truth = probe._shift(scene.astype(np.float32), 0.5, -0.25).astype(np.float64)
    _, moved = probe.aligned(truth + rng.normal(0, 0.02, scene.shape), scene)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(moved - truth[inner]).mean() < 0.1 * np.abs(scene[inner] - truth[inner]).mean()


def test_scene_probe_scores_a_model_and_cbm3d_on_both_kinds_of_photo(tmp_path):
    import pytest

    pytest.importorskip("bm3d")
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    (tmp_path / "polyu").mkdir()
    (tmp_path / "cbsd68").mkdir()
    for i in range(2):
        img = (cv2.GaussianBlur(rng.random((40, 40, 3)), (0, 0), 2) * 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "polyu" / f"cam_{i}_mean.png"), img)
        cv2.imwrite(str(tmp_path / "polyu" / f"cam_{i}_real.png"), img)  # never read: references only
        cv2.imwrite(str(tmp_path / "cbsd68" / f"{i}.png"), img)
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "scene_probe.py"), "--data-dir", str(tmp_path), "--limit", "1",
                        "--model", "photo-color", "gaussian:10"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    means = [line for line in r.stdout.splitlines() if "model - CBM3D" in line]
    assert len(means) == 2 and "PolyU references" in means[0] and "CBSD68" in means[1]
    for line in means:
        noisy, model, cbm3d = (float(line.split(key)[1].split()[0]) for key in ("noisy ", "photo-color ", "sigma "))
        assert model > noisy + 1 and cbm3d > noisy + 1  # both denoise


def test_deepen_inserts_dilated_layers_that_change_nothing_until_trained(tmp_path):
    import torch

    from daekit.checkpoint import build_model, load_checkpoint, save_checkpoint
    from daekit.models import create_model

    _write_folder(tmp_path / "photos", n=3, size=(96, 90))
    torch.manual_seed(0)
    src = create_model("residual", 1, depth=5, width=8, batch_norm=True)
    for m in src.body:  # a trained-looking model: not the identity, BatchNorm statistics of its own
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.2)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(0, 0.5)
            m.running_var.uniform_(0.5, 2)
    save_checkpoint(tmp_path / "src.safetensors", src, {"noise": "gaussian:0..50"})
    tool = [sys.executable, str(ROOT / "tools" / "deepen.py"), str(tmp_path / "src.safetensors")]
    r = subprocess.run(tool + [str(tmp_path / "deep.safetensors"), "--after", "2", "--dilations", "2,3",
                               "--data-dir", str(tmp_path / "photos"), "--patches", "8"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    deep = build_model(load_checkpoint(tmp_path / "deep.safetensors")).eval()
    assert deep.spec["depth"] == 7 and deep.spec["dilation"] == [1, 1, 2, 3, 1, 1, 1]
    assert deep.geometry.receptive_field == src.geometry.receptive_field + 2 * (2 + 3)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(deep(x), src.eval()(x), atol=1e-5)  # the same function, a wider view to learn from
    bad = subprocess.run(tool + [str(tmp_path / "x.safetensors"), "--after", "5", "--dilations", "2",
                                 "--data-dir", str(tmp_path / "photos")], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--after must lie in 1..4" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_no_script_in_bench_or_tools_is_named_like_a_module_it_would_hide():
    """bench/ and tools/ go on sys.path when their scripts run (and in a test worker that imported a tool):
    a script named like a package (bench/onnx.py once was) is then what `import onnx` loads."""
    import importlib.util

    folders = {ROOT / "bench", ROOT / "tools"}
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in folders]
    try:
        hidden = []
        for script in sorted(p for folder in folders for p in folder.glob("*.py")):
            loaded = sys.modules.get(script.stem)
            spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec(script.stem)
            elsewhere = spec is not None and Path(spec.origin or "").resolve() != script.resolve()
            if script.stem in sys.stdlib_module_names or elsewhere:
                hidden.append(f"{script.relative_to(ROOT)} hides {script.stem}")
    finally:
        sys.path[:] = saved
    assert not hidden, hidden


def test_precise_batchnorm_sets_the_running_statistics_to_the_exact_mean_over_the_batches():
    import torch
    from torch import nn

    from daekit.noise import make_generator, parse_noise
    from daekit.train import precise_batchnorm

    torch.manual_seed(0)
    conv, norm = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
    model = nn.Sequential(conv, norm)
    norm.running_mean.fill_(100.0)  # statistics that no longer fit the weights
    batches = [torch.rand(8, 1, 12, 12) + k for k in range(3)]
    assert precise_batchnorm(model, batches, parse_noise("none"), make_generator(0)) == 24
    with torch.no_grad():
        feats = [conv(b) for b in batches]
    want_mean = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats]).mean(0)
    want_var = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in feats]).mean(0)
    assert torch.allclose(norm.running_mean, want_mean, atol=1e-5)
    assert torch.allclose(norm.running_var, want_var, atol=1e-5)
    assert norm.momentum == 0.1 and not model.training


def test_precise_bn_tool_changes_only_the_statistics_the_same_way_each_time_and_refuses_bad_values(tmp_path, capsys):
    import torch

    from daekit.checkpoint import find_checkpoint, load_checkpoint
    from daekit.cli import main as daekit

    photos = _write_folder(tmp_path / "bsd400", n=8)
    sets = ["model.args.depth=3", "model.args.width=8", "data.patch_size=16", "data.patches_per_epoch=64",
            "train.batch_size=16", "data.val_fraction=0.25", "train.epochs=1", f"out={tmp_path / 'run'}"]
    argv = ["train", "--config", str(ROOT / "configs" / "photo-gray.yaml"), "--data-dir", str(photos), "--device", "cpu"]
    assert daekit(argv + [x for s in sets for x in ("--set", s)]) == 0
    tool = import_tool("precise_bn")
    outs = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for out in outs:
        assert tool.main([str(tmp_path / "run"), str(out), "--data-dir", str(photos), "--patches", "48"]) == 0
    src = load_checkpoint(find_checkpoint(tmp_path / "run", "best"))
    a, b = (load_checkpoint(o) for o in outs)
    for k, v in src.state_dict.items():
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k  # the same command gives the same file
        if k.endswith(("running_mean", "running_var")):
            assert not torch.equal(v, a.state_dict[k]), k
        elif not k.endswith("num_batches_tracked"):
            assert torch.equal(v, a.state_dict[k]), k
    assert a.info["precise_bn"]["patches"] == 48 and a.config == src.config
    capsys.readouterr()
    bad = tmp_path / "c.safetensors"
    assert tool.main([str(tmp_path / "run"), str(bad), "--data-dir", str(photos), "--patches", "0"]) == 1
    assert tool.main([str(tmp_path / "nothing"), str(bad), "--data-dir", str(photos)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--patches" in err[0] and "Traceback" not in "".join(err) and not bad.exists(), err


def _prep_checkout(tmp_path):
    """A stand-in checkout (what device_prep.sh checks for) and a python whose `pip download` writes stand-in
    wheels: the real one would go to the network, which tests never do."""
    root = tmp_path / "checkout"
    (root / "src" / "daekit").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    shim = tmp_path / "python"
    shim.write_text(f"""#!/usr/bin/env bash
if [ "$1" = -m ] && [ "$2" = pip ]; then
    while [ $# -gt 1 ]; do [ "$1" = -d ] && dir=$2; shift; done
    touch "$dir/$1-fake.whl"; exit 0
fi
exec {sys.executable} "$@"
""")
    shim.chmod(0o755)
    return root, shim


def test_device_prep_builds_what_a_device_call_carries_and_keeps_the_last_good_copy(tmp_path):
    root, shim = _prep_checkout(tmp_path)
    data = tmp_path / "data"
    for name, n in (("cbsd432", 3), ("polyu", 2)):
        _write_folder(data / name, n=n)
    (data / "cbsd68").mkdir()
    for i in range(14):
        (data / "cbsd68" / f"{i:02d}.png").write_bytes((data / "polyu" / "img0.png").read_bytes())
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(shim), "HOME": str(tmp_path)}

    def prep(*args):
        return subprocess.run(["bash", str(ROOT / "tools" / "device_prep.sh"), *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)

    (root / ".devdata").mkdir()
    (root / ".devdata" / "stale").write_text("from an earlier run")
    r = prep("color", str(data))
    assert r.returncode == 0, r.stderr
    dev = root / ".devdata"
    assert sorted(p.name for p in dev.iterdir()) == ["cbsd432", "cbsd68", "polyu"]  # the stale copy is replaced
    assert len(list((dev / "cbsd432").rglob("*.png"))) == 3 and len(list((dev / "cbsd68").iterdir())) == 12
    assert sorted(p.name.split("==")[0] for p in (root / ".whl").iterdir()) == [
        "annotated-types", "pydantic", "pydantic-core", "typing-inspection"]
    assert "MiB of 64" in r.stdout
    assert not list(root.glob(".*.tmp")) and not list(root.glob(".*.old"))

    # a kill between the swap's two renames left only the set-aside copy: the next run puts it back first
    dev.rename(root / ".devdata.old")
    r = prep("color", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"device_prep: no data folder {tmp_path / 'nowhere'} (pass it, or set DAEKIT_DATA)"]
    assert (dev / "cbsd432").is_dir() and not (root / ".devdata.old").exists()

    for args, said in ((("grey", str(data)), "unknown set 'grey'"), (("gray", str(data)), f"{data}/bsd400 is missing")):
        r = prep(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and said in r.stderr
    assert (dev / "cbsd432").is_dir()  # a refused run leaves what was there


def test_soup_averages_two_runs_weights_and_statistics_and_refuses_other_networks(tmp_path, capsys):
    import torch

    from daekit.api import Denoiser
    from daekit.checkpoint import find_checkpoint, load_checkpoint
    from daekit.cli import main as daekit

    photos = _write_folder(tmp_path / "bsd400", n=8)
    runs = []
    for seed, depth in ((0, 3), (1, 3), (0, 4)):
        sets = [f"model.args.depth={depth}", "model.args.width=8", "data.patch_size=16", "data.patches_per_epoch=64",
                "train.batch_size=16", "data.val_fraction=0.25", "train.epochs=1", f"seed={seed}",
                f"out={tmp_path / f'run{len(runs)}'}"]
        argv = ["train", "--config", str(ROOT / "configs" / "photo-gray.yaml"), "--data-dir", str(photos), "--device", "cpu"]
        assert daekit(argv + [x for s in sets for x in ("--set", s)]) == 0
        runs.append(tmp_path / f"run{len(runs)}")
    tool = import_tool("soup")
    out = tmp_path / "soup.safetensors"
    assert tool.main([str(runs[0]), str(runs[1]), str(out), "--weights", "1,3"]) == 0
    a, b = (load_checkpoint(find_checkpoint(r, "last")) for r in runs[:2])
    s = load_checkpoint(out)
    for k, v in s.state_dict.items():
        if v.is_floating_point():  # weights and BatchNorm statistics alike
            assert torch.allclose(v, (a.state_dict[k] + 3 * b.state_dict[k]) / 4, atol=1e-6), k
        else:
            assert torch.equal(v, a.state_dict[k]), k
    assert [x["weight"] for x in s.info["soup"]] == [1.0, 3.0] and s.config == b.config
    assert Denoiser.load(str(out), device="cpu").denoise(torch.rand(20, 24).numpy()).shape == (20, 24)
    capsys.readouterr()
    for argv in ([str(runs[0]), str(runs[2]), str(tmp_path / "x.safetensors")],  # another depth
                 [str(runs[0]), str(tmp_path / "x.safetensors")],  # one source
                 [str(runs[0]), str(runs[1]), str(tmp_path / "x.safetensors"), "--weights", "1"],
                 [str(runs[0]), str(runs[1]), str(tmp_path / "x.pt")],
                 [str(runs[0]), str(runs[1]), str(find_checkpoint(runs[1], "last"))]):  # would overwrite a source
        assert tool.main(argv) == 1, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(e.startswith("soup: ") for e in err) and "not the same network" in err[0], err
    assert not (tmp_path / "x.safetensors").exists()
