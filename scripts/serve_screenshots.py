"""Screenshots of the `cardiac-lge serve` page on a phone-sized screen (390 x 844) for the README.

    .venv/bin/python scripts/serve_screenshots.py [--out Resources/Screenshots]

Starts a real server, opens the page in Debian's headless Chromium (Playwright), uploads a simulated photo of a
console mosaic (and one frame) and saves the page. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "Resources" / "Screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from support.phone_photos import MOSAIC_CASES, jpeg_bytes, mosaic_photo, single_frame_photo
    from support.web_server import CHROMIUM_ARGS, Server

    args.out.mkdir(parents=True, exist_ok=True)
    server = Server()
    try:
        with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
            mosaic = Path(folder) / "mosaic.jpg"
            mosaic.write_bytes(jpeg_bytes(mosaic_photo(*MOSAIC_CASES[1]).image))
            frame = Path(folder) / "frame.jpg"
            data, ti, _ = single_frame_photo()
            frame.write_bytes(data)
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True)
            page.goto(server.url)
            page.screenshot(path=str(args.out / "serve_phone_start.png"))
            page.set_input_files("#photo", str(mosaic))
            page.fill("#chosen-ti", "300")
            page.click("#analyse")
            page.wait_for_selector("#result:not([hidden])", timeout=180_000)
            page.evaluate("document.getElementById('status').scrollIntoView()")
            page.screenshot(path=str(args.out / "serve_phone_mosaic.png"))
            page.goto(server.url)
            page.check("input[value=single-frame]")
            page.set_input_files("#photo", str(frame))
            page.fill("#frame-ti", f"{ti:g}")
            page.click("#analyse")
            page.wait_for_selector("#result:not([hidden])", timeout=180_000)
            page.evaluate("document.getElementById('status').scrollIntoView()")
            page.screenshot(path=str(args.out / "serve_phone_single_frame.png"))
            browser.close()
    finally:
        server.close()
    for name in ("serve_phone_start.png", "serve_phone_mosaic.png", "serve_phone_single_frame.png"):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
