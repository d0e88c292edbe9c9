import json

import pytest

from daekit.config import Config, config_from_dict, config_to_dict, parse_override, read_config_file, resolve_config, write_config
from daekit.errors import DaekitError


def test_defaults_round_trip_through_every_format(tmp_path):
    cfg = resolve_config(sets=["train.lr=3e-4", "model.args={channels: [16, 16]}", "noise=masking:0.5"])
    for name in ("c.yaml", "c.json"):
        write_config(cfg, tmp_path / name)
        assert resolve_config(tmp_path / name) == cfg
    toml = tmp_path / "c.toml"
    toml.write_text('noise = "masking:0.5"\n[train]\nlr = 3e-4\n[model]\nname = "conv"\n[model.args]\nchannels = [16, 16]\n')
    assert resolve_config(toml) == cfg
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_precedence_defaults_file_options_sets(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  epochs: 7\n  lr: 1e-2\nnoise: gaussian:10\n")
    cfg = resolve_config(f, {"train": {"epochs": 9}}, ["train.epochs=11"])
    assert cfg.train.epochs == 11 and cfg.train.lr == 1e-2 and cfg.noise == "gaussian:10"
    assert cfg.train.batch_size == Config().train.batch_size
    assert resolve_config(f, {"train": {"epochs": 9}}).train.epochs == 9


@pytest.mark.parametrize(
    "sets, words",
    [
        (["train.epochs=abc"], "train.epochs: Input should be a valid integer"),
        (["train.lrr=0.1"], "train.lrr: unknown key"),
        (["bogus=1"], "bogus: unknown key"),
        (["train.loss=hinge"], "train.loss: Input should be 'auto', 'mse', 'bce', 'l1' or 'psnr'"),
        (["train.epochs=0"], "greater than or equal to 1"),
        (["train=5"], "train: expected a mapping"),
        (["nokey"], "--set expects key=value"),
        (["train.amp=maybe"], "train.amp: Input should be a valid boolean"),
    ],
)
def test_bad_values_one_clear_line(sets, words):
    with pytest.raises(DaekitError) as e:
        resolve_config(sets=sets)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(DaekitError, match="config file not found"):
        read_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(DaekitError, match="does not parse"):
        read_config_file(bad)
    bad.write_text("- a list\n")
    with pytest.raises(DaekitError, match="expected a mapping at the top level"):
        resolve_config(bad)


def test_override_values_are_typed():
    assert parse_override("train.lr=3e-4") == {"train": {"lr": 3e-4}}
    assert parse_override("model.args.channels=[8, 8]") == {"model": {"args": {"channels": [8, 8]}}}
    assert parse_override("data.dir=") == {"data": {"dir": None}}
    assert parse_override("noise=gaussian:25+masking:0.1") == {"noise": "gaussian:25+masking:0.1"}
