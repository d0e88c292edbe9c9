"""daekit serve: the HTTP API on a real server, and the page in a real headless browser (Debian chromium)."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

uvicorn = pytest.importorskip("uvicorn")
from daekit.errors import DaekitError  # noqa: E402
from daekit.serve import App, build_app, free_port  # noqa: E402


def _noisy_photo(path: Path, side: int = 160, sigma: float = 25) -> np.ndarray:
    from skimage import data

    clean = data.camera()[100 : 100 + side, 150 : 150 + side].astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, sigma / 255, clean.shape), 0, 1)
    cv2.imwrite(str(path), (noisy * 255 + 0.5).astype(np.uint8))
    return clean


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.fixture(scope="module")
def server():
    state = App([], max_upload_mb=0.5, device="cpu")
    port = free_port("127.0.0.1")
    srv = uvicorn.Server(uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", state
    srv.should_exit = True
    t.join(timeout=10)
    state.close()


def _post(url: str, filename: str, data: bytes, **fields: str) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "/api/jobs", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _wait(url: str, job: str) -> dict:
    for _ in range(600):
        with urllib.request.urlopen(f"{url}/api/jobs/{job}") as r:
            d = json.loads(r.read())
        if d["state"] in ("done", "error", "cancelled"):
            return d
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_page_has_no_external_requests(server):
    url, _ = server
    page = urllib.request.urlopen(url + "/").read().decode()
    assert "<script src" not in page and "http://" not in page and "https://" not in page
    models = json.loads(urllib.request.urlopen(url + "/api/models").read())["models"]
    assert "photo-gray" in models and "photo-rgb" in models


def test_upload_denoise_download(server, tmp_path):
    url, _ = server
    clean = _noisy_photo(tmp_path / "n.png")
    code, d = _post(url, "n.png", (tmp_path / "n.png").read_bytes(), model="photo-gray", strength="1", color_strength="1")
    assert code == 200, d
    st = _wait(url, d["id"])
    assert st["state"] == "done" and (st["width"], st["height"]) == (160, 160)
    assert st["model"] == "photo-gray" and "gray photos" in st["use"] and st["wide"] is False and st["seconds"] > 0  # what the page says
    raw = urllib.request.urlopen(f"{url}/api/jobs/{d['id']}/result").read()
    out = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    noisy = cv2.imread(str(tmp_path / "n.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == noisy.shape and out.dtype == np.uint8
    assert _psnr(out / 255, clean) > _psnr(noisy / 255, clean) + 4


def test_auto_sends_a_gray_photo_saved_as_rgb_to_the_gray_model(server, tmp_path):
    url, _ = server
    clean = _noisy_photo(tmp_path / "g.png")
    gray = cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED)
    ok, buf = cv2.imencode(".png", np.dstack([gray] * 3))  # a black-and-white photo exported in colour
    code, d = _post(url, "rgb.png", buf.tobytes())  # no model: auto
    assert code == 200, d
    assert _wait(url, d["id"])["state"] == "done"
    out = cv2.imdecode(np.frombuffer(urllib.request.urlopen(f"{url}/api/jobs/{d['id']}/result").read(), np.uint8),
                       cv2.IMREAD_UNCHANGED)
    assert out.shape == (*gray.shape, 3)
    assert _psnr(out[..., 0] / 255, clean) > _psnr(gray / 255, clean) + 4  # a colour model gains ~0.5 dB here


def test_the_wide_pass_is_each_uploads_own(server, tmp_path):
    url, state = server
    rgb = np.random.default_rng(5).integers(60, 200, (48, 64, 3)).astype(np.uint8)
    ok, buf = cv2.imencode(".png", rgb)
    ids = {}
    for wide in ("on", "off", "auto"):  # one shared photo-real for the three jobs
        code, d = _post(url, "c.png", buf.tobytes(), model="photo-real", wide=wide)
        assert code == 200, d
        ids[wide] = d["id"]
    done = {w: _wait(url, i) for w, i in ids.items()}
    assert [done[w]["wide"] for w in ("on", "off", "auto")] == [True, False, False]  # auto: white noise, not widened
    assert all(d["state"] == "done" and d["model"] == "photo-real" for d in done.values())
    assert state.model("photo-real").wide == "auto"
    code, d = _post(url, "c.png", buf.tobytes(), model="photo-real", wide="yes")
    assert code == 400 and d["error"] == "unknown wide pass 'yes'; use auto, on or off"


def _cleaned_upload(url: str, path: Path, result_name: str) -> np.ndarray:
    """Uploads `path`, waits for the job, checks the result's file name, returns it decoded as gray."""
    code, d = _post(url, path.name, path.read_bytes())
    assert code == 200, d
    assert _wait(url, d["id"])["state"] == "done"
    with urllib.request.urlopen(f"{url}/api/jobs/{d['id']}/result") as r:
        assert result_name in r.headers.get("content-disposition", "")
        return cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_GRAYSCALE)


def test_a_heic_photo_upload_comes_back_as_jpeg(server, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    url, _ = server
    clean = _noisy_photo(tmp_path / "g.png")
    gray = cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED)
    Image.fromarray(np.dstack([gray] * 3)).save(tmp_path / "IMG_0002.heic", quality=100)
    out = _cleaned_upload(url, tmp_path / "IMG_0002.heic", "denoised.jpg")
    noisy = np.asarray(Image.open(tmp_path / "IMG_0002.heic").convert("L"))
    assert out.shape == gray.shape and _psnr(out / 255, clean) > _psnr(noisy / 255, clean) + 3


def test_a_webp_upload_comes_back_as_png(server, tmp_path):
    from PIL import Image

    url, _ = server
    clean = _noisy_photo(tmp_path / "g.png")
    gray = cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED)
    Image.fromarray(gray).save(tmp_path / "phone.webp", lossless=True)
    out = _cleaned_upload(url, tmp_path / "phone.webp", "denoised.png")
    assert out.shape == gray.shape and _psnr(out / 255, clean) > _psnr(gray / 255, clean) + 3


def test_bad_uploads_get_messages(server, tmp_path):
    url, state = server
    code, d = _post(url, "notes.png", b"this is not an image at all")
    assert code == 415 and "not an image" in d["error"]
    ok, small = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    code, d = _post(url, "s.png", small.tobytes(), model="photo-gray", color_strength="1.5")
    assert code == 400 and "colour strength must be at least 0 and at most 1" in d["error"]
    code, d = _post(url, "big.png", b"\x89PNG\r\n\x1a\n" + bytes(700_000))
    assert code == 413 and "too large" in d["error"]
    ok, buf = cv2.imencode(".png", np.zeros((32, 32), np.uint8))
    bomb = bytearray(buf.tobytes())
    bomb[16:24] = (100_000).to_bytes(4, "big") * 2
    code, d = _post(url, "bomb.png", bytes(bomb))
    assert code == 200
    st = _wait(url, d["id"])
    assert st["state"] == "error" and "100000x100000 pixels, over the limit" in st["message"]
    assert "/" not in st["message"] and "daekit-serve" not in st["message"]  # no server paths reach the page
    code, d = _post(url, "x.png", buf.tobytes(), model="no-such-model")
    assert code == 400 and "unknown model" in d["error"]
    assert all(p.is_relative_to(state.tmp) for p in state.tmp.rglob("*"))


def test_quality_mode_and_precision_apply_to_every_model_and_are_checked_first():
    state = App([], device="cpu", ensemble=4, precision="fp32")
    try:
        den = state.model("photo-gray")
        assert den.ensemble == 4 and den.precision == "fp32"
    finally:
        state.close()
    for kw, words in [({"ensemble": 3}, "ensemble size must be one of"), ({"precision": "fp16"}, "unknown precision 'fp16'")]:
        with pytest.raises(DaekitError, match=words):
            App([], device="cpu", **kw)


def test_temporary_folder_is_removed_on_close():
    state = App([], device="cpu")
    assert state.tmp.is_dir()
    state.close()
    assert not state.tmp.exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver not installed "
                    "(make test installs them with apt-get where it can; see Makefile)")
def test_in_a_real_browser(server, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    clean = _noisy_photo(tmp_path / "noisy.png")
    (tmp_path / "notes.png").write_text("not an image")
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.get(url + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) >= 2)
        driver.find_element(By.ID, "file").send_keys(str(tmp_path / "noisy.png"))
        driver.find_element(By.ID, "go").click()
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("done"))
        status = driver.find_element(By.ID, "status").text  # a gray photo: auto picked the gray model
        assert status.startswith("done: 160 x 160 by photo-gray in ") and status.endswith(" s") and "wide" not in status
        href = driver.find_element(By.ID, "download").get_attribute("href")
        raw = urllib.request.urlopen(href).read()
        out = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
        assert out.shape == clean.shape
        noisy = cv2.imread(str(tmp_path / "noisy.png"), cv2.IMREAD_UNCHANGED)
        assert _psnr(out / 255, clean) > _psnr(noisy / 255, clean) + 4
        assert driver.execute_script("return document.getElementById('after').naturalWidth") == 160
        # the download is named after the upload; the labels sit where the two images meet, at any zoom
        assert driver.find_element(By.ID, "download").get_attribute("download") == "noisy-denoised.png"
        js_box = "const r = document.getElementById(arguments[0]).getBoundingClientRect(); return [r.left, r.right, r.width];"
        for z, split in ((1, 50), (3, 30)):
            driver.execute_script(f"zoom({z}); const s = document.getElementById('split'); s.value = {split};"
                                  "s.dispatchEvent(new Event('input'));")
            div, before, after = (driver.execute_script(js_box, i) for i in ("divider", "before", "after"))
            assert abs(before[2] - 160 * z) < 1 and abs(div[0] - (before[0] + split / 100 * before[2])) < 2
            tags = driver.find_elements(By.CSS_SELECTOR, "#tags span")
            left, right = (driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right];", t) for t in tags)
            assert left[1] <= div[0] + 1 and right[0] >= div[0] - 1 and right[0] - left[1] < 12  # either side of the divider
        driver.find_element(By.ID, "fit").click()  # the whole photo in the window
        viewer = driver.execute_script("return document.getElementById('viewer').clientWidth")
        assert driver.execute_script(js_box, "before")[2] <= viewer
        if os.environ.get("DAEKIT_SCREENSHOTS"):  # to look at: DAEKIT_SCREENSHOTS=shots/ pytest tests/test_serve.py
            driver.save_screenshot(str(Path(os.environ["DAEKIT_SCREENSHOTS"]) / "serve.png"))

        driver.find_element(By.ID, "file").send_keys(str(tmp_path / "notes.png"))
        driver.find_element(By.ID, "go").click()
        wait.until(lambda d: "not an image" in d.find_element(By.ID, "error").text)
    finally:
        driver.quit()
