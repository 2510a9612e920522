"""The web page of ``cardiac-lge serve`` in a real browser (headless Chromium from Debian, driven by Playwright):
upload a mosaic photo and a single frame, check that the page shows the CLI's numbers, and the error paths.
Skipped, with the reason, where Chromium or Playwright is missing (.ci/run installs Chromium)."""

from __future__ import annotations

import json

import pytest
from support.phone_photos import MOSAIC_CASES, jpeg_bytes, mosaic_photo, single_frame_photo
from support.web_server import CHROMIUM, Server, launch_chromium

from cardiac_lge.cli import main

if not CHROMIUM.exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install -e .[test])")

ANSWER_TIMEOUT_MS = 120_000  # the first mosaic on a busy 2-core machine


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        context = launch_chromium(playwright, str(tmp_path_factory.mktemp("chromium-profile")))
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def _cli_json(tmp_path, picture, *args) -> dict:
    out = tmp_path / "cli.json"
    assert main(["ti-correct", str(picture), *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_mosaic_photo_shows_the_cli_numbers(server, page, tmp_path):
    picture = tmp_path / "mosaic.jpg"
    picture.write_bytes(jpeg_bytes(mosaic_photo(*MOSAIC_CASES[1]).image))
    page.goto(server.url)
    page.set_input_files("#photo", str(picture))
    page.fill("#chosen-ti", "300")
    page.click("#analyse")
    page.wait_for_selector("#result:not([hidden])", timeout=ANSWER_TIMEOUT_MS)
    cli = _cli_json(tmp_path, picture, "--mosaic", "--chosen-ti", "300")
    assert page.text_content("#null-ti") == f"{cli['null_ti_ms']:.0f} ms \u00b1 {cli['null_uncertainty_ms']:.0f}"
    assert page.text_content("#recommended-ti") == f"{cli['recommended_lge_ti_ms']:.0f} ms"
    verdict = page.text_content("#verdict")
    assert f"Your TI 300 ms: {cli['chosen']['verdict']}" in verdict
    if not cli["chosen"]["in_optimal_range"]:
        assert f"change it to {cli['chosen']['change_to_ms']:.0f} ms" in verdict
    shown_tis = [float(v) for v in page.eval_on_selector_all(".ti-input", "inputs => inputs.map(i => i.value)")]
    assert shown_tis == [round(t["ti_ms"]) for t in cli["mosaic"]["tiles"]]
    assert page.eval_on_selector("#annotated", "img => img.naturalWidth") > 500
    warnings = page.text_content("#warnings")
    assert "Photo of the monitor" in warnings or "Pictures of the monitor" in warnings


def test_single_frame_shows_the_cli_numbers(server, page, tmp_path):
    data, ti, _ = single_frame_photo()
    picture = tmp_path / "frame.jpg"
    picture.write_bytes(data)
    page.goto(server.url)
    page.check("input[value=single-frame]")
    page.set_input_files("#photo", str(picture))
    page.fill("#frame-ti", f"{ti:g}")
    page.click("#analyse")
    page.wait_for_selector("#result:not([hidden])", timeout=ANSWER_TIMEOUT_MS)
    cli = _cli_json(tmp_path, picture, "--single-frame", "--ti-ms", f"{ti:g}")
    assert page.text_content("#recommended-ti") == f"{cli['recommended_lge_ti_ms']:.0f} ms"
    assert page.text_content("#null-ti") == f"{cli['null_ti_ms']:.0f} ms"
    verdict = page.text_content("#verdict")
    assert f"is {cli['offset_from_null_ms']:+.0f} ms from the null" in verdict and cli["frame_status"] in verdict
    assert page.is_hidden("#tis")


def test_error_paths_wrong_file_unreadable_tis_and_no_token(server, page, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a photo")
    page.goto(server.url)
    page.set_input_files("#photo", str(text_file))
    page.click("#analyse")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "photo" in page.text_content("#error").lower()

    picture = tmp_path / "no_ti.jpg"
    picture.write_bytes(jpeg_bytes(mosaic_photo(*MOSAIC_CASES[0], print_ti=False).image))
    page.set_input_files("#photo", str(picture))
    page.click("#analyse")
    page.wait_for_function("document.getElementById('error').textContent.includes('could not read')", timeout=ANSWER_TIMEOUT_MS)
    assert page.locator(".ti-input").count() == 20 and page.is_visible("#tis")
    # the user enters the first TI and the spacing once, and gets the answer
    page.fill("#first-ti", "100")
    page.fill("#spacing", "50")
    page.click("#analyse")
    page.wait_for_function("document.getElementById('recommended-ti').textContent.endsWith('ms')", timeout=ANSWER_TIMEOUT_MS)
    assert page.is_hidden("#error")
    shown = [float(v) for v in page.eval_on_selector_all(".ti-input", "inputs => inputs.map(i => i.value)")]
    assert shown == [100.0 + 50 * k for k in range(20)]

    page.goto(server.base)  # no token
    assert "Access token needed" in page.text_content("body")
