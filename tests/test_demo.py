"""The demo end to end with few epochs: every output it promises is written and readable."""
import json

from PIL import Image

from daekit.demo import run_demo


def test_demo_writes_report_figures_and_models(tmp_path, capsys):
    out = tmp_path / "demo"
    res = run_demo(out, epochs=2, progress=False, test_limit=200)
    printed = capsys.readouterr().out
    assert "report:" in printed and "camera photograph" in printed
    for name in ("report.html", "report.md", "results.json", "demo_grid.png", "camera_before_after.png",
                 "camera_noisy.png", "camera_denoised.png", "ae/checkpoints/best.safetensors",
                 "dae/checkpoints/best.safetensors"):
        assert (out / name).exists(), name
    assert Image.open(out / "camera_denoised.png").size == (512, 512)
    results = json.loads((out / "results.json").read_text())
    assert results["train_noise"] == "masking:50%" and results["data"] == "digits28" and results["image_size"] == [28, 28]
    at_50 = next(r for r in results["levels"] if r["noise"] == "masking:50%")["methods"]
    assert at_50["dae"]["psnr"] > at_50["input"]["psnr"] + 4 and not results["collapsed"]  # 2 epochs: ~19 dB from 12
    cam = res["camera"]
    assert cam["dae"] > cam["nlm"] > cam["noisy"] + 2  # the shipped photo model beats tuned non-local means
