"""Headless Chromium for the tests (Debian's chromium): opens an HTML page as a reader would and says
how many of its images loaded. Installed with apt-get where it is missing and the tests run as root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

PACKAGE = "chromium"

# appended to a copy of the page: once every image has loaded or failed, the title counts them
COUNT_IMAGES = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0);
  document.title = `IMAGES ${images.length} LOADED ${loaded.length}`;
});
</script>"""


class Unavailable(Exception):
    """Chromium cannot be installed on this machine (the reason is the message): skip."""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("chromium is not installed, and installing it needs root and apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", PACKAGE],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {done.stderr[-500:]}")
    return shutil.which("chromium")


def images_loaded(page: Path, scratch: Path) -> tuple[int, int]:
    """(images on the page, images that loaded), as headless Chromium renders ``page``."""
    copy = scratch / page.name
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", COUNT_IMAGES + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={scratch / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            copy.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"<title>IMAGES (\d+) LOADED (\d+)</title>", done.stdout)
    if not found:
        raise AssertionError(f"chromium did not render {page} ({done.returncode}): {done.stderr[-1000:]}")
    return int(found.group(1)), int(found.group(2))
