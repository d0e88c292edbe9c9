"""`daekit compare` and `daekit report`: a real (tiny) AE/DAE pair, the classical methods, the report."""
import base64
import json
import re
from html.parser import HTMLParser
from io import BytesIO

import pytest
from PIL import Image

from daekit.cli import main
from daekit.compare import default_sweeps, parse_sweep
from daekit.errors import DaekitError


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "lesson"
    rc = main(["compare", "--quiet", "--data", "digits", "--model", "dense", "--noise", "masking:0.5", "--epochs", "40", "--out", str(out),
               "--set", "data.resize=16", "--set", "train.lr=1e-2", "--set", "train.batch_size=32", "--set", "model.args.hidden=64",
               "--sweep", "masking:0.25,0.5", "--sweep", "gaussian:25,50", "--methods", "median,tv", "--test-limit", "120"])
    assert rc == 0
    return out


def test_results_hold_every_method_and_level(comparison):
    res = json.loads((comparison / "results.json").read_text())
    assert [r["noise"] for r in res["levels"]] == ["masking:0.25", "masking:0.5", "gaussian:25", "gaussian:50"]
    assert set(res["clean"]) == {"ae", "dae"}
    for r in res["levels"]:
        assert set(r["methods"]) == {"input", "ae", "dae", "median", "tv"}
        assert r["best_classical"] in ("median", "tv")
        assert all(0 < m["ssim"] <= 1 for m in r["methods"].values())
    # the point of the lesson: on the noise it was trained for, the DAE beats the compression AE
    m50 = res["levels"][1]["methods"]
    assert m50["dae"]["psnr"] > m50["ae"]["psnr"] + 1
    assert m50["dae"]["psnr"] > m50["input"]["psnr"]


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.cells, self._in_td = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data.strip())


def test_report_is_self_contained_and_complete(comparison):
    html = (comparison / "report.html").read_text()
    p = _Collector()
    p.feed(html)
    assert len(p.images) >= 5  # curves, 3 grids, learning curves, filters
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(BytesIO(base64.b64decode(src.split(",", 1)[1])))
        img.load()  # every embedded image decodes
        assert img.size[0] > 100 and img.size[1] > 100
    assert p.cells and all(c for c in p.cells)  # every table cell has a value
    assert re.search(r"<b>\d+\.\d\d / \d\.\d{3}</b>", html)  # best marked
    assert "http://" not in html and "https://" not in html  # nothing fetched from outside
    md = (comparison / "report.md").read_text()
    assert "| masking:0.5 |" in md and "figures/psnr_curves.png" in md
    assert (comparison / "figures" / "filters.png").exists()  # dense models show their filters


def test_report_regenerates(comparison, capsys):
    (comparison / "report.html").unlink()
    assert main(["report", str(comparison)]) == 0
    assert (comparison / "report.html").exists()


def test_reuse_runs(comparison, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["compare", "--quiet", "--runs", str(comparison / "ae"), str(comparison / "dae"), "--out", str(out),
                 "--methods", "none", "--sweep", "masking:0.5", "--test-limit", "50"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["levels"][0]["best_classical"] is None and res["test_images"] == 50
    assert "DAE" in capsys.readouterr().out


def _err(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_input(comparison, tmp_path, capsys):
    assert "unknown classical method 'bilateral'" in _err(capsys, ["compare", "--quiet", "--methods", "median,bilateral", "--out", str(tmp_path / "x")])
    assert "outside the noise model's range" in _err(capsys, ["compare", "--quiet", "--sweep", "masking:0.5,1.5", "--out", str(tmp_path / "x")])
    assert "outside the noise model's range" in _err(capsys, ["compare", "--quiet", "--sweep", "gaussian:-10,25", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()  # refused before any training
    # runs of different data sets
    other = tmp_path / "other"
    assert main(["train", "--quiet", "--epochs", "1", "--model", "dense", "--out", str(other)]) == 0  # 8x8 digits, not 16x16
    assert "different data" in _err(capsys, ["compare", "--runs", str(comparison / "ae"), str(other), "--out", str(tmp_path / "y")])
    assert "already holds a run" in _err(capsys, ["compare", "--quiet", "--out", str(comparison), "--epochs", "1"])
    assert "results.json not found" in _err(capsys, ["report", str(tmp_path)])


def test_sweep_parsing():
    assert parse_sweep("masking:0.1,0.3") == ["masking:0.1", "masking:0.3"]
    assert default_sweeps("gaussian:50+clip")[0] == "gaussian:10"
    assert default_sweeps("none")[0].startswith("masking")
    with pytest.raises(DaekitError, match="use NAME:V1,V2"):
        parse_sweep("masking")


def test_report_shows_a_stack_run_when_both_exist(comparison, capsys):
    stack = comparison / "stack"
    assert main(["stack", "--data", "digits", "--layers", "32", "--noise", "masking:0.2", "--pretrain-epochs", "1", "--finetune-epochs", "2",
                 "--cleaning", "masking:0.5", "--cleaning-epochs", "1", "--out", str(stack), "--quiet"]) == 0
    assert main(["report", str(comparison)]) == 0
    html = (comparison / "report.html").read_text()
    assert "Stacked denoising autoencoder" in html and "test accuracy" in html
    assert "Cleaning before classifying" in html and "cleaned by conv DAE" in html
    row = re.findall(r"<tr><td>masking:0\.5</td>(.*?)</tr>", html)[-1]  # the last table: cleaning before classifying
    assert len(re.findall(r"\d+\.\d\d%", row)) == 3  # as is / cleaned / trained on corruption, all with values
    assert "| masking:0.5 |" in (comparison / "report.md").read_text()
    assert (comparison / "figures" / "stack_cleaning.png").exists()
    p = _Collector()
    p.feed(html)
    for src in p.images:
        Image.open(BytesIO(base64.b64decode(src.split(",", 1)[1]))).load()
    assert (comparison / "figures" / "stack_confusion_matrix.png").exists()
    assert main(["report", str(comparison), "--stack", str(comparison / "nope")]) == 2
    assert "no stack run in" in capsys.readouterr().err


def test_collapsed_models_are_named():
    from daekit.compare import collapsed_models, format_comparison

    def row(ae, dae):
        return {"noise": "masking:50%", "best_classical": None, "best": "dae",
                "methods": {"input": {"psnr": 12.0}, "ae": {"psnr": ae}, "dae": {"psnr": dae}}}

    results = {"constant_psnr": 10.0, "clean": {"ae": {"psnr": 10.4}, "dae": {"psnr": 19.0}}, "levels": [row(10.2, 18.0)]}
    assert collapsed_models(results) == ["ae"]
    results["collapsed"] = collapsed_models(results)
    text = format_comparison(results)
    assert "compression AE did not learn" in text and "denoising AE" not in text.splitlines()[-1]
    results["clean"]["ae"]["psnr"] = 25.0
    assert collapsed_models(results) == []


def test_training_that_learns_nothing_says_so(tmp_path, capsys):
    from conftest import tiny_sets

    from daekit.config import resolve_config
    from daekit.train import fit

    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=1", "train.lr=1e-9", "noise=none"))
    fit(cfg, progress=True)
    out = capsys.readouterr().out
    assert "did not learn" in out and "saturated" not in out  # its sigmoid output sits at 0.5: no hint about saturation


def test_the_report_reads_well_in_a_browser_at_800_pixels(comparison, tmp_path):
    """No sideways scroll of the page (wide tables scroll in their own box), no Markdown left as text,
    every figure decodes: what tools/screenshot_report.py shows, asserted."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian chromium + chromium-driver not installed")
    pytest.importorskip("selenium")
    from conftest import import_tool

    shot = import_tool("screenshot_report")
    browser, page_facts = shot.browser, shot.page_facts

    driver = browser(800)
    try:
        driver.get((comparison / "report.html").resolve().as_uri())
        facts = page_facts(driver)
    finally:
        driver.quit()
    assert facts["overflow"] <= 0 and facts["backticks"] == 0 and facts["images"] == 0, facts
