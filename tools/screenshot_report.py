"""Full-page screenshots of a report (or any local HTML page) in headless Chromium, at the widths people use.

    python tools/screenshot_report.py runs/demo/report.html --out shots/ --widths 800 1280

Look at them: tables that wrap or overflow, legends over curves, unreadable numbers, stray Markdown.
Needs chromium + chromedriver (Debian: chromium, chromium-driver) and selenium (the dev extras).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def browser(width: int):
    from selenium import webdriver

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        sys.exit("screenshot_report: chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},1000"):
        opts.add_argument(a)
    opts.binary_location = chromium
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver_path))


def page_facts(driver) -> dict:
    """What a reader would notice without looking: sideways overflow and Markdown left as text."""
    return driver.execute_script(
        "return {overflow: document.documentElement.scrollWidth - window.innerWidth,"
        " backticks: (document.body.innerText.match(/`/g) || []).length,"
        " height: document.documentElement.scrollHeight,"
        " images: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length};")


def shoot(page: Path, out: Path, widths: list[int]) -> list[Path]:
    shots = []
    for width in widths:
        driver = browser(width)
        try:
            driver.get(page.resolve().as_uri())
            facts = page_facts(driver)
            driver.set_window_size(width, min(facts["height"] + 100, 16000))
            path = out / f"{page.stem}_{width}.png"
            driver.save_screenshot(str(path))
            shots.append(path)
            print(f"{path}: width {width}, height {facts['height']}, sideways overflow {facts['overflow']} px, "
                  f"backticks {facts['backticks']}, broken images {facts['images']}")
        finally:
            driver.quit()
    return shots


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("page", type=Path)
    p.add_argument("--out", type=Path, default=Path("shots"))
    p.add_argument("--widths", type=int, nargs="+", default=[800, 1280])
    a = p.parse_args()
    if not a.page.is_file():
        sys.exit(f"screenshot_report: no such page: {a.page}")
    a.out.mkdir(parents=True, exist_ok=True)
    shoot(a.page, a.out, a.widths)


if __name__ == "__main__":
    main()
