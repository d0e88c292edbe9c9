import json

import pytest
import torch

from daekit.cli import main
from daekit.config import resolve_config
from daekit.data import load_dataset
from daekit.errors import DaekitError
from daekit.stack import StackSettings, UnrolledAE, accuracy, confusion_matrix, finetune_classifier, finetune_denoiser, pretrain


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", val_fraction=0.1)


def test_pretraining_is_layer_by_layer(digits, monkeypatch):
    """Layer k's weights change only during its own phase (and later during fine-tuning)."""
    import daekit.stack as stack

    snapshots = []
    real = stack.encode_all

    def spy(encoder, x, upto=None, batch=4096):  # called at the start of each phase k >= 1
        snapshots.append([l.weight.detach().clone() for l in encoder.layers])
        return real(encoder, x, upto, batch)

    monkeypatch.setattr(stack, "encode_all", spy)
    s = StackSettings(layers=[32, 16, 8], noise=["masking:0.1", "masking:0.2", "masking:0.3"], pretrain_epochs=2)
    torch.manual_seed(0)
    enc, hist, _ = pretrain(digits.train, s)
    final = [l.weight.detach().clone() for l in enc.layers]
    assert len(snapshots) == 2 and [len(h) for h in hist] == [2, 2, 2]
    # before phase 2 (k=1), layer 1 is trained and layers 2, 3 still untouched; before phase 3 layer 2 too
    after1, after2 = snapshots
    assert torch.equal(after1[0], after2[0]) and torch.equal(after2[0], final[0])  # layer 1 frozen after its phase
    assert not torch.equal(after1[1], after2[1]) and torch.equal(after2[1], final[1])  # layer 2 changes in phase 2 only
    assert torch.equal(after1[2], after2[2]) and not torch.equal(after2[2], final[2])  # layer 3 only in phase 3
    net, _ = finetune_classifier(enc, digits.train, digits.train_labels, 10, StackSettings(layers=[32, 16, 8], noise=["masking:0.1"], finetune_epochs=1))
    assert all(not torch.equal(a, l.weight) for a, l in zip(final, net.encoder.layers))  # fine-tuning moves all of them


def test_classifier_learns_digits(digits):
    s = StackSettings(layers=[128, 64], noise=["masking:0.2"], pretrain_epochs=3, finetune_epochs=15, batch_size=32, finetune_lr=2e-3)
    enc, _, _ = pretrain(digits.train, s)
    net, hist = finetune_classifier(enc, digits.train, digits.train_labels, 10, s, val=(digits.val, digits.val_labels))
    assert hist[-1]["loss"] < hist[0]["loss"]
    acc = accuracy(net, digits.test, digits.test_labels)
    assert acc > 0.9
    pred = net(digits.test.flatten(1)).argmax(1)
    cm = confusion_matrix(pred, digits.test_labels, 10)
    assert cm.sum() == len(digits.test) and cm.trace() / cm.sum() == pytest.approx(acc, abs=1e-6)


def test_mnist_subset_passes_90_percent_in_seconds(shared_data):
    import time

    d = load_dataset("mnist", shared_data / "mnist", limit=2000, val_fraction=0.0)
    t0 = time.perf_counter()
    s = StackSettings(layers=[256, 128], noise=["masking:0.2", "masking:0.3"], pretrain_epochs=5, finetune_epochs=20, batch_size=32, finetune_lr=2e-3)
    enc, _, _ = pretrain(d.train, s)
    net, _ = finetune_classifier(enc, d.train, d.train_labels, 10, s)
    assert accuracy(net, d.test, d.test_labels) > 0.90
    assert time.perf_counter() - t0 < 60


def test_unrolled_denoiser_starts_from_the_stack_and_improves(digits):
    s = StackSettings(layers=[64, 32], noise=["masking:0.3"], pretrain_epochs=3, finetune_epochs=4)
    enc, _, _ = pretrain(digits.train, s)
    ae = UnrolledAE(enc)
    assert torch.equal(ae.decoder[0].weight, enc.layers[1].weight.t())
    net, hist = finetune_denoiser(enc, digits.train, "masking:0.3", s)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert net(digits.test[:4]).shape == digits.test[:4].shape


def test_settings_are_checked():
    with pytest.raises(DaekitError, match="3 layers but 2 noise levels"):
        StackSettings(layers=[1, 2, 3], noise=["masking:0.1", "masking:0.2"])
    with pytest.raises(DaekitError, match="fraction must be in"):
        StackSettings(layers=[4], noise=["masking:2"])
    assert StackSettings(layers=[4, 4], noise=["masking:0.1"]).noise == ["masking:0.1", "masking:0.1"]


def test_cli_stack_run_folder(tmp_path, capsys):
    import json

    from daekit.cli import main

    out = tmp_path / "sda"
    assert main(["stack", "--layers", "64,32", "--noise", "masking:0.1,0.2", "--pretrain-epochs", "2",
                 "--finetune-epochs", "8", "--out", str(out), "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_accuracy"] > 0.8 and len(m["confusion_matrix"]) == 10 and [len(h) for h in m["pretrain"]] == [2, 2]
    for f in ("pretraining_curves.png", "filters_layer1.png", "filters_layer2.png", "confusion_matrix.png", "stack.safetensors"):
        assert (out / f).exists(), f
    assert "test accuracy" in capsys.readouterr().out
    assert main(["stack", "--out", str(out), "--quiet"]) == 2  # an existing run is not replaced
    assert "already holds a stack run" in capsys.readouterr().err
    assert main(["stack", "--layers", "64,x", "--out", str(tmp_path / "b")]) == 2
    assert "--layers expects sizes" in capsys.readouterr().err
    assert main(["stack", "--layers", "8,8,8", "--noise", "masking:0.1,0.2", "--out", str(tmp_path / "c")]) == 2
    assert "3 layers but 2 noise levels" in capsys.readouterr().err


def test_cleaning_before_classifying_leaves_the_pretrained_stack_alone(digits, tmp_path):
    import copy

    from daekit.stack_cleaning import cleaning_before_classifying

    s = StackSettings(layers=[64], noise=["masking:0.2"], pretrain_epochs=1, finetune_epochs=3)
    enc, _, _ = pretrain(digits.train, s)
    pretrained = copy.deepcopy(enc)
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    net, _ = finetune_classifier(enc, digits.train, digits.train_labels, 10, s)
    rows, samples = cleaning_before_classifying(net, pretrained, digits, s, ["gaussian:50+clip"], dae_epochs=1, out=tmp_path)
    assert all(torch.equal(before[k], v) for k, v in pretrained.state_dict().items())
    (r,) = rows
    assert r["noise"] == "gaussian:50+clip" and all(0 <= r[k] <= 1 for k in ("as_is", "cleaned", "trained")) and r["dae_psnr"] > 0
    assert r["as_is"] == accuracy(net, parse_noise_fixed(digits, s), digits.test_labels)  # the test corruption is fixed by the seed
    assert list(samples) == ["clean", "gaussian:50+clip", "gaussian:50+clip cleaned"]
    assert (tmp_path / "gaussian-50_clip" / "checkpoints").is_dir()


def parse_noise_fixed(digits, s):
    from daekit.noise import make_generator, parse_noise
    from daekit.seeding import CLEAN
    from daekit.seeding import derive_seed

    return parse_noise("gaussian:50+clip")(digits.test, make_generator(derive_seed(s.seed, CLEAN, 0)))


def test_cli_stack_cleaning_before_classifying(tmp_path, capsys):
    """Cleaning masked digits with a conv DAE before classifying them beats classifying them as they are."""
    import json

    from daekit.cli import main

    out = tmp_path / "sda"
    assert main(["stack", "--data", "digits", "--layers", "128", "--noise", "masking:0.2", "--pretrain-epochs", "2", "--finetune-epochs", "10",
                 "--cleaning", "masking:0.5", "--cleaning-epochs", "8", "--out", str(out), "--quiet"]) == 0
    (r,) = json.loads((out / "metrics.json").read_text())["cleaning"]
    assert r["cleaned"] > r["as_is"] + 0.02  # measured +3..+7 points over seeds 0-3
    assert (out / "cleaning.png").exists() and (out / "cleaning" / "masking-0.5" / "checkpoints").is_dir()
    assert "cleaned by conv DAE" in capsys.readouterr().out
    assert main(["stack", "--finetune", "denoise", "--cleaning", "--out", str(tmp_path / "b")]) == 2
    assert "needs a classifier" in capsys.readouterr().err
    assert main(["stack", "--cleaning", "masking:2", "--out", str(tmp_path / "c")]) == 2
    assert "masking" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_stack_has_a_config_section_and_its_run_folder_says_what_ran(tmp_path, capsys):
    (tmp_path / "my.yaml").write_text("stack: {layers: [16], pretrain_epochs: 1, finetune_epochs: 2}\nseed: 3\n")
    assert main(["stack", "--config", str(tmp_path / "my.yaml"), "--set", "stack.batch_size=64", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    saved = resolve_config(tmp_path / "a" / "config.yaml")
    assert saved.stack.layers == [16] and saved.stack.batch_size == 64 and saved.seed == 3 and saved.stack.finetune_lr == 2e-3
    assert main(["stack", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    a, b = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("a", "b"))
    assert a["test_accuracy"] == b["test_accuracy"]  # the saved config reruns the same run
    assert main(["stack", "--set", "stack.layers=[0]", "--out", str(tmp_path / "c")]) == 2
    assert "stack.layers" in capsys.readouterr().err and not (tmp_path / "c").exists()
