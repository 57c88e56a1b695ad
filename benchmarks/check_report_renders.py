"""Render report.html files in headless Chromium: every image loads, no console error, and
the explorer (where the page has one) answers a click and a slider.

Usage::

    python benchmarks/check_report_renders.py                 # a fresh `shiftvae demo --quick`
    python benchmarks/check_report_renders.py run1/report.html run2/report.html
    python benchmarks/check_report_renders.py --screenshot out.png run1/report.html

A copy of each report gets two small scripts: one first in the head that records every
error and console.error, and one that, once the page has loaded, counts the images loaded
(complete, with a non-zero natural width) and, in the explorer, selects the middle drawn
cell as the tap tool does, reads the patch then drawn, and moves the first latent's slider
from one end to the other.  It writes what it saw as JSON into the page; Chromium's
``--dump-dom`` prints the DOM after the scripts ran.  The report itself stays untouched.

Passed when: every image loaded; no error; no request to the network; the patch drawn
for the cell is the page's stored patch of that cell (decoded independently of the page's
own callback), its reconstruction and residual are drawn; the motif differs between the
slider's ends.
``make browser-check`` installs Debian's chromium first.  Exit code 0 when every report
passes.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ERRORS = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
</script>"""

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var out = {images: [ok, imgs.length]};
  function finish() {
    out.errors = window.__errors;
    out.requests = performance.getEntriesByType("resource").map(function (r) { return r.name; })
      .filter(function (n) { return /^https?:/.test(n); });
    var paint = performance.getEntriesByName("first-contentful-paint")[0];
    out.first_paint_ms = paint ? Math.round(paint.startTime) : null;
    var pre = document.createElement("pre");
    pre.id = "probe-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    document.title = "PROBED";
  }
  function decode(b64) {
    var bin = atob(b64), a = [];
    for (var i = 0; i < bin.length; i++) a.push(bin.charCodeAt(i));
    return a;
  }
  function flat(img) {  // an ndarray (typed) or nested rows, as a plain list
    if (!img) return [];
    if (img.shape) return Array.from(img);
    return [].concat.apply([], img.map(function (r) { return Array.from(r); }));
  }
  function explore(tries) {
    var doc = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
    var cells = doc && doc.get_model_by_name("cells");
    if (!cells) {
      if (tries > 0 && window.Bokeh) {
        return setTimeout(function () { explore(tries - 1); }, 100);
      }
      out.explorer = null;
      return finish();
    }
    out.explorer_ready_ms = Math.round(performance.now());
    var row = Math.floor(cells.data.cell.length / 2);
    var store = doc.get_model_by_name("patch_store");
    cells.selected.indices = [row];
    setTimeout(function () {
      var shown = doc.get_model_by_name("patch_source").data;
      var k = cells.data.stored[row];
      var e = {cell: cells.data.cell[row], shown: shown.cell[0], stored_index: k,
               info: doc.get_model_by_name("cell_info").text};
      if (k >= 0) {
        e.patch_matches = JSON.stringify(flat(shown.image[0])) ===
          JSON.stringify(decode(store.data.patch[k]));
        e.shown_is_stored = shown.cell[0] === store.data.cell[k];
        var recon = doc.get_model_by_name("recon_source").data;
        e.recon_drawn = !!store.data.recon[k] && recon.cell[0] === shown.cell[0];
      }
      out.explorer = e;
      var slider = doc.get_model_by_name("latent_slider_0");
      if (!slider) return finish();
      var motif = doc.get_model_by_name("motif_source");
      slider.value = slider.start;
      setTimeout(function () {
        var first = JSON.stringify(flat(motif.data.image[0]));
        slider.value = slider.end;
        setTimeout(function () {
          e.slider_changes_motif = first !== JSON.stringify(flat(motif.data.image[0]));
          e.motif_frame = motif.data.frame[0];
          finish();
        }, 200);
      }, 200);
    }, 300);
  }
  explore(100);
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


def probe_report(chromium: str, report: Path, screenshot: Path | None) -> dict:
    """What the probe saw in ``report`` rendered by headless Chromium (see the module)."""
    page_html = report.read_text(encoding="utf-8")
    probed = page_html.replace("<head>", "<head>" + ERRORS, 1)
    head, body, tail = probed.rpartition("</body>")  # the page's own: the last one
    probed = head + PROBE + body + tail if body else probed + PROBE
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text(probed, encoding="utf-8")
        profile = ["--user-data-dir=" + str(Path(tmp) / "profile")]
        tic = time.perf_counter()
        dom = subprocess.run(
            [chromium, *FLAGS, *profile, "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        ).stdout
        seconds = time.perf_counter() - tic
        if screenshot is not None:
            shot = [f"--screenshot={screenshot.resolve()}", "--window-size=1400,2400"]
            subprocess.run(
                [chromium, *FLAGS, *profile, *shot, report.resolve().as_uri()],
                capture_output=True,
                timeout=180,
                check=False,
            )
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    if match is None:
        raise RuntimeError(f"Chromium did not run the probe script on {report}")
    found = json.loads(html.unescape(match.group(1)))
    found["seconds"] = round(seconds, 2)
    found["megabytes"] = round(report.stat().st_size / 1e6, 2)
    return found


def verdict(found: dict) -> list[str]:
    """What failed in a probe's findings (empty: passed)."""
    loaded, total = found["images"]
    fails = [] if loaded == total else [f"{loaded}/{total} images loaded"]  # 0/0: --no-figures
    fails += [f"error: {e}" for e in found.get("errors", [])]
    fails += [f"request to the network: {r}" for r in found.get("requests", [])]
    e = found.get("explorer")
    if e is not None:
        if e.get("stored_index", -1) < 0:
            fails.append("the selected cell has no stored patch")
        elif not (e.get("patch_matches") and e.get("shown_is_stored")):
            fails.append(f"cell {e['cell']}: the patch drawn is not its stored patch")
        if e.get("recon_drawn") is False:
            fails.append("no reconstruction drawn")
        if e.get("slider_changes_motif") is False:
            fails.append("moving the slider did not change the decoded motif")
    return fails


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
            found = probe_report(chromium, report, shot)
            fails = verdict(found)
            failed += bool(fails)
            e = found.get("explorer")
            what = "no explorer" if e is None else f"explorer: cell {e['cell']} shows {e['shown']}"
            print(
                f"{'FAIL' if fails else 'ok  '} {report}: {found['images'][0]}/"
                f"{found['images'][1]} images, {what}, {found['megabytes']} MB, first paint "
                f"{found.get('first_paint_ms')} ms, explorer drawn "
                f"{found.get('explorer_ready_ms')} ms, loaded and probed in {found['seconds']} s"
            )
            for line in fails:
                print(f"     {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
