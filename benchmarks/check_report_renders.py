"""Render report.html files in headless Chromium and check that every image loaded.

Usage::

    python benchmarks/check_report_renders.py                 # a fresh `shiftvae demo --quick`
    python benchmarks/check_report_renders.py run1/report.html run2/report.html
    python benchmarks/check_report_renders.py --screenshot out.png run1/report.html

A copy of each report gets a small script that, once the page has loaded, writes
"IMAGES <loaded>/<total>" into the document title (an image counts as loaded when it is
complete and has a non-zero natural width); Chromium's ``--dump-dom`` prints the DOM after
the scripts ran.  The report itself stays untouched.  ``make browser-check`` installs
Debian's chromium first.  Exit code 0 when every report shows all its images.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.title = "IMAGES " + ok + "/" + imgs.length;
});
</script>"""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def count_loaded_images(chromium: str, report: Path, screenshot: Path | None) -> tuple[int, int]:
    """(loaded, total) images of ``report`` as rendered by headless Chromium."""
    html = report.read_text(encoding="utf-8")
    probed = html.replace("</body>", PROBE + "</body>") if "</body>" in html else html + PROBE
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text(probed, encoding="utf-8")
        profile = ["--user-data-dir=" + str(Path(tmp) / "profile")]
        dom = subprocess.run(
            [chromium, *FLAGS, *profile, "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
        if screenshot is not None:
            shot = [f"--screenshot={screenshot.resolve()}", "--window-size=1280,2400"]
            subprocess.run(
                [chromium, *FLAGS, *profile, *shot, report.resolve().as_uri()],
                capture_output=True,
                timeout=120,
                check=False,
            )
    match = re.search(r"<title>IMAGES (\d+)/(\d+)</title>", dom)
    if match is None:
        raise RuntimeError(f"Chromium did not run the probe script on {report}")
    return int(match.group(1)), int(match.group(2))


def demo_report(folder: Path) -> Path:
    """Write a quick demo into ``folder`` and return its report."""
    out = folder / "demo"
    cmd = [sys.executable, "-m", "shiftvae", "demo", "--quick", "--out", str(out), "-q"]
    subprocess.run(cmd, check=True)
    return out / "report.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, help="report.html files")
    parser.add_argument("--screenshot", type=Path, help="PNG of the (first) report as rendered")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found: run `make browser-check` (installs Debian's chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        reports = args.reports or [demo_report(Path(tmp))]
        failed = 0
        for i, report in enumerate(reports):
            shot = args.screenshot if i == 0 else None
            loaded, total = count_loaded_images(chromium, report, shot)
            ok = total > 0 and loaded == total
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {report}: {loaded}/{total} images loaded")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
