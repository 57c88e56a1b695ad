"""The explorer: what the page stores is the fit's, it stays within its size budget, it
opens without patches or a model and says so, and (with Chromium) it answers in a browser."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.explore import explorer_data, explorer_html
from shiftvae.explore.explorer import FRAMES, MAX_CELLS, PATCH_BYTES, quantise
from shiftvae.synthetic.crystals import displacement_domain_crystal
from shiftvae.types import LatentMaps, Patches

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short fit of a crystal with two displacement domains, saved."""
    image, _ = displacement_domain_crystal(size=192, seed=0)
    fit = sv.fit_image(image, sv.FitConfig(epochs=3), progress=False)
    out = sv.save_results(fit, tmp_path_factory.mktemp("explore") / "run")
    return fit, out


def _decode(b64: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(shape)


def test_the_page_stores_each_cells_own_patch_and_its_reconstruction(run):
    fit, _ = run
    data = explorer_data(fit.image, fit.maps, fit.patches, fit.model, fit.encoding)
    lo, hi = data.scale_patches
    h, w = data.patch_shape
    assert (h, w) == fit.patches.data.shape[1:] and len(data.store["cell"]) > 10
    own, other = [], []
    for k, cell in enumerate(data.store["cell"]):
        patch = _decode(data.store["patch"][k], (h, w))
        np.testing.assert_array_equal(patch, quantise(fit.patches.data[cell], lo, hi))
        recon = _decode(data.store["recon"][k], (h, w)).astype(float).ravel()
        own.append(np.corrcoef(recon, patch.ravel())[0, 1])
        far = quantise(fit.patches.data[(cell + 7) % len(fit.patches)], lo, hi).ravel()
        other.append(np.corrcoef(recon, far)[0, 1])
    assert np.median(own) > 0.6 and np.median(own) > np.median(other) + 0.3  # 0.72 and 0.01
    # every drawn cell points at a stored patch; a stored cell at its own
    stored = np.asarray(data.store["cell"])
    assert (stored[data.cells["stored"]] >= 0).all()
    where = {c: i for i, c in enumerate(data.cells["cell"])}
    assert all(data.cells["stored"][where[c]] == k for k, c in enumerate(stored))


def test_the_columns_displacements_are_drawn_where_the_columns_are(run):
    fit, _ = run
    assert fit.columns is not None and len(fit.columns.sites) >= 2
    data = explorer_data(fit.image, fit.maps, columns=fit.columns)
    moved = data.displacements[0]  # the B columns, moved by +-2 px in two domains
    assert len(moved["x"]) > 20
    assert np.percentile(moved["size"], 75) > 1.0  # measured about 2 px
    np.testing.assert_allclose(moved["size"], np.hypot(moved["dx"], moved["dy"]), rtol=1e-5)


def test_each_slider_has_frames_along_its_latent_that_differ(run):
    fit, _ = run
    data = explorer_data(fit.image, fit.maps, fit.patches, fit.model, fit.encoding)
    latents = np.asarray(data.frames["latent"])
    assert len(latents) == FRAMES * fit.model.config.latent_dim
    for j in range(fit.model.config.latent_dim):
        images = [data.frames["image"][i] for i in np.flatnonzero(latents == j)]
        assert images[0] != images[-1]
        values = np.asarray(data.frames["value"])[latents == j]
        assert np.all(np.diff(values) > 0)


def test_a_large_grid_keeps_the_page_within_its_budget():
    rows = cols = 400  # 160 000 cells: a 4096 px image at a 10 px step
    grid = np.stack(np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij"), -1) * 10.0
    maps = LatentMaps(
        z=np.random.default_rng(0).normal(size=(2, rows, cols)),
        shift=np.zeros((2, rows, cols)),
        centers=grid + 16,
        step=10,
    )
    image = sv.Image(np.random.default_rng(1).random((4096, 4096)).astype(np.float32))
    data = np.broadcast_to(
        np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(1, 32, 32), (rows * cols, 32, 32)
    )
    patches = Patches(data, grid.reshape(-1, 2) + 16, (rows, cols), 32, 10, (4096, 4096))
    found = explorer_data(image, maps, patches)
    assert len(found.cells["x"]) <= MAX_CELLS and found.stride == 2
    assert len(found.store["cell"]) * 32 * 32 <= PATCH_BYTES
    assert any("one row and column in 2" in m for m in found.missing)
    assert any("no model" in m for m in found.missing)
    head, body = explorer_html(found)
    assert len(head) + len(body) < 20e6


def test_without_patches_the_page_opens_and_says_what_is_missing(run):
    fit, _ = run
    data = explorer_data(fit.image, fit.maps)
    head, body = explorer_html(data)
    assert "no patches: this result holds the maps only" in body
    assert not data.store["cell"] and not data.frames["image"]
    assert "<script src=" not in head and "cdn.bokeh.org" not in head + body


def test_the_report_holds_the_explorer_inline(run):
    _, out = run
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in ("cell_input", "patch_store", "motif_store", "latent_slider_0"):
        assert name in page
    assert "<script src=" not in page and "cdn.bokeh.org" not in page


def test_results_explore_and_patches_for_hyperspy(run, tmp_path):
    fit, out = run
    back = sv.load_results(out)
    np.testing.assert_array_equal(back.patches().data, fit.patches.data)
    layout = back.explore(show=False)
    assert layout.select_one({"name": "patch_store"}) is not None
    signal = back.to_hyperspy("patches")
    assert signal.axes_manager.navigation_shape == fit.patches.grid_shape[::-1]
    np.testing.assert_array_equal(signal.data.reshape(fit.patches.data.shape), fit.patches.data)
    lone = tmp_path / "lone"  # the results without model.pt beside them
    lone.mkdir()
    shutil.copy(out / "results.h5", lone / "results.h5")
    layout = sv.load_results(lone).explore(show=False)
    note = layout.select_one({"name": "explorer_missing"})
    assert note is not None and "no model" in note.text


def test_the_explorer_answers_in_a_browser(run):
    """A click on a cell draws its stored patch, the slider changes the motif, no error."""
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium here: `make browser-check` installs Debian's and runs this")
    _, out = run
    check = [sys.executable, str(ROOT / "benchmarks" / "check_report_renders.py")]
    done = subprocess.run([*check, str(out / "report.html")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "explorer: cell" in done.stdout
