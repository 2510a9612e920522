"""A real ``cardiac-lge serve`` in a subprocess (for the browser tests and the screenshot script)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for headless Chromium here (no GPU, no sandbox as root, no network chatter of its own).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``cardiac-lge serve --host 127.0.0.1`` (token required) on a free port; ``url`` carries the token."""

    def __init__(self, extra_args=(), warm_up: bool = True):
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="cardiac-lge-serve-", suffix=".log")[1])
        args = [sys.executable, "-m", "cardiac_lge.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra_args]
        if not warm_up:
            args.append("--no-warm-up")
        with open(self.log, "w") as handle:
            self.process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ})
        self.token = self._wait_for("access token: ")
        self.base = f"http://127.0.0.1:{self.port}/"
        self.url = f"{self.base}?token={self.token}"
        self._wait_for("Stop with Ctrl+C")

    def _wait_for(self, prefix: str, timeout_s: float = 180.0) -> str:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if self.process.poll() is not None:
                raise RuntimeError(f"cardiac-lge serve stopped:\n{self.log.read_text()}")
            time.sleep(0.2)
        raise TimeoutError(f"cardiac-lge serve did not start:\n{self.log.read_text()}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.unlink(missing_ok=True)


def launch_chromium(playwright, user_data_dir: str):
    """Debian's Chromium driven by Playwright (never ``playwright install``), a fresh profile."""
    return playwright.chromium.launch_persistent_context(
        user_data_dir, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
