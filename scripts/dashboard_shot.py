"""Open a run in ``tuner dashboard`` and render it in headless Chromium: DOM text or a PNG.

    python scripts/dashboard_shot.py results/digits_mlp docs/dashboard.png

Used by tests/test_dashboard_browser.py (the browser test) and to make ``docs/dashboard.png``.
Drives Debian's system browser (``apt-get install -y chromium chromium-driver``) with its own
command line — ``--dump-dom`` after a ``--virtual-time-budget``, or ``--screenshot`` — rather than
Playwright, whose browser download is not reachable here, or Selenium, one more dependency.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

__all__ = ["find_chromium", "render", "start_dashboard", "text_of"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--hide-scrollbars"]


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def start_dashboard(folder: str, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """``tuner dashboard FOLDER --port 0`` in a subprocess; returns it and the study URL."""
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "dashboard", folder, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:  # a thread: readline would block past the timeout
        for line in proc.stdout:
            lines.append(line)
            if "http://" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout) or proc.poll() is not None:
        proc.kill()
        raise RuntimeError("tuner dashboard did not start:\n" + "".join(lines))
    url = re.search(r"http://\S+", next(l for l in lines if "http://" in l)).group(0)
    return proc, url


def render(url: str, *, screenshot: str | None = None, size: str = "1400,1000",
           budget_ms: int = 10000, timeout: float = 120.0) -> str:
    """The rendered DOM of ``url`` (or write a PNG to ``screenshot`` and return "")."""
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no chromium on PATH (apt-get install -y chromium chromium-driver)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={budget_ms}", f"--window-size={size}"]
        cmd += [f"--screenshot={os.path.abspath(screenshot)}"] if screenshot else ["--dump-dom"]
        out = subprocess.run(cmd + [url], check=False, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"chromium exited {out.returncode}: {out.stderr[-2000:]}")
    return out.stdout


def text_of(dom: str) -> str:
    """The page's visible text, one space between words (styles and scripts dropped)."""
    dom = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)).strip()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/dashboard_shot.py RESULTS_FOLDER OUT.png", file=sys.stderr)
        return 2
    folder, png = argv
    proc, url = start_dashboard(folder)
    try:
        render(url, screenshot=png)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{png}: {os.path.getsize(png) // 1024} KiB of {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
