"""``cardiac-lge serve`` without a browser: token, refusals (size, type), the bounded worker pool, and that a
real server writes nothing to disk and logs nothing identifying."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from support.phone_photos import jpeg_bytes, single_frame_photo

from cardiac_lge.phone import PhoneAnswer, PhoneModels
from cardiac_lge.serve.app import ServeSettings, create_app

REPO = Path(__file__).resolve().parents[2]


def _fake_answer() -> PhoneAnswer:
    result = {"mode": "single-frame", "ti_ms": 300.0, "offset_from_null_ms": 0.0, "confidence": 1.0, "frame_status": "optimal",
              "frame_in_optimal_range": True, "change_ti_to_ms": 300.0, "null_ti_ms": 300.0, "recommended_lge_ti_ms": 305.0,
              "warnings": []}
    return PhoneAnswer(result, "report", jpeg_bytes(__import__("numpy").zeros((8, 8, 3))))


def _client(token=None, max_upload_bytes=2_000_000, workers=2, queue=1, analysers=None) -> TestClient:
    settings = ServeSettings(token=token, max_upload_bytes=max_upload_bytes, workers=workers, queue=queue)
    return TestClient(create_app(PhoneModels(), settings, analysers))


def test_token_is_required_when_set():
    analysers = {"single-frame": lambda data, ti, models, settings, chosen_ti_ms=None: _fake_answer()}
    photo = jpeg_bytes(__import__("numpy").full((32, 32), 90))
    with _client(token="s3cret-token", analysers=analysers) as client:
        assert client.get("/").status_code == 401
        assert "Access token" in client.get("/").text
        assert client.get("/?token=wrong").status_code == 401
        assert client.get("/?token=s3cret-token").status_code == 200
        refused = client.post("/api/single-frame?ti_ms=300", content=photo, headers={"Content-Type": "image/jpeg"})
        assert refused.status_code == 401 and "token" in refused.json()["error"]
        accepted = client.post("/api/single-frame?ti_ms=300", content=photo,
                               headers={"Content-Type": "image/jpeg", "X-Access-Token": "s3cret-token"})
        assert accepted.status_code == 200 and accepted.json()["display"]["recommended_ti"] == "305 ms"


def test_page_and_assets_are_served_from_the_package_without_cdn():
    with _client() as client:
        page = client.get("/")
        assert page.status_code == 200 and 'capture="environment"' in page.text and 'accept="image/*"' in page.text
        for asset in ("/static/app.js", "/static/style.css"):
            response = client.get(asset)
            assert response.status_code == 200 and "http://" not in response.text and "https://" not in response.text
        assert "https://" not in page.text
        assert client.get("/static/../pyproject.toml").status_code == 404


def test_oversized_wrong_type_and_unreadable_uploads_are_refused_clearly():
    with _client(max_upload_bytes=10_000) as client:
        big = client.post("/api/mosaic", content=b"\xff" * 20_000, headers={"Content-Type": "image/jpeg"})
        assert big.status_code == 413 and "too large" in big.json()["error"]
        text = client.post("/api/mosaic", content=b"hello", headers={"Content-Type": "text/plain"})
        assert text.status_code == 415 and "photo" in text.json()["error"]
        fake = client.post("/api/mosaic", content=b"not really a png", headers={"Content-Type": "image/png"})
        assert fake.status_code == 415 and "not a picture" in fake.json()["error"]
        no_ti = client.post("/api/single-frame", content=b"x", headers={"Content-Type": "image/jpeg"})
        assert no_ti.status_code == 400 and "ti" in no_ti.json()["error"].lower()
        bad_number = client.post("/api/single-frame?ti_ms=abc", content=b"x", headers={"Content-Type": "image/jpeg"})
        assert bad_number.status_code == 400 and "not a number" in bad_number.json()["error"]


def test_worker_pool_is_bounded_and_the_server_stays_responsive():
    """2 workers + 1 waiting: of 6 simultaneous slow analyses 3 run or wait, 3 are told 'busy' at once, and the
    health check answers while the workers are busy."""
    started, release = threading.Event(), threading.Event()
    running = []

    def slow(data, ti, models, settings, chosen_ti_ms=None):
        running.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return _fake_answer()

    photo = jpeg_bytes(__import__("numpy").full((32, 32), 90))
    with _client(workers=2, queue=1, analysers={"single-frame": slow}) as client:
        results = []

        def post():
            results.append(client.post("/api/single-frame?ti_ms=300", content=photo, headers={"Content-Type": "image/jpeg"}))

        threads = [threading.Thread(target=post) for _ in range(6)]
        for thread in threads:
            thread.start()
        assert started.wait(10)
        deadline = time.time() + 10
        while sum(r.status_code == 503 for r in results) < 3 and time.time() < deadline:
            time.sleep(0.05)
        before = time.perf_counter()
        health = client.get("/api/health")
        assert health.status_code == 200 and time.perf_counter() - before < 2.0
        assert health.json()["in_flight"] == 3
        release.set()
        for thread in threads:
            thread.join(20)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 200, 503, 503, 503]
    assert all("busy" in r.json()["error"] for r in results if r.status_code == 503)
    assert len(set(running)) <= 2  # never more than the two worker threads


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.slow
def test_real_server_keeps_photos_in_memory_and_logs_nothing_identifying(tmp_path):
    home, work, temporary = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, temporary):
        folder.mkdir()
    port = _free_port()
    environment = {**os.environ, "HOME": str(home), "TMPDIR": str(temporary), "MPLCONFIGDIR": str(home / "mpl"),
                   "PYTHONDONTWRITEBYTECODE": "1"}
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "cardiac_lge.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-warm-up"], cwd=work, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        token = None
        deadline = time.time() + 90
        while time.time() < deadline and token is None:
            for line in log_path.read_text().splitlines():
                if line.startswith("access token: "):
                    token = line.split(": ", 1)[1].strip()
            time.sleep(0.2)
        assert token, log_path.read_text()
        before = {name: _files(folder) for name, folder in (("home", home), ("work", work), ("tmp", temporary))}
        data, ti, _ = single_frame_photo()
        marker = b"PATIENT-NAME-MARKER"  # bytes inside the upload (a JPEG comment), never to appear in the log
        data = data[:2] + b"\xff\xfe" + (len(marker) + 2).to_bytes(2, "big") + marker + data[2:]
        for _ in range(60):
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/api/single-frame?ti_ms={ti:g}", content=data, timeout=60,
                                      headers={"Content-Type": "image/jpeg", "X-Access-Token": token})
                break
            except httpx.ConnectError:
                time.sleep(0.5)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["ti_ms"] == ti
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code == 401
        after = {name: _files(folder) for name, folder in (("home", home), ("work", work), ("tmp", temporary))}
        assert after == before, "the server wrote files"
    finally:
        server.terminate()
        server.wait(20)
    log_text = log_path.read_text()
    assert "POST /api/single-frame 200" in log_text
    assert "PATIENT-NAME-MARKER" not in log_text and f"ti_ms={ti:g}" not in log_text
    assert log_text.count(token) == 2  # the link and the token printed once at start, never in request lines
