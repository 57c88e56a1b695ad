"""The lattice model against the paper's model on the shared real images.

For each image, ``fit_image`` runs with default options (the lattice model: torus position,
lattice Fourier coder) and with ``lattice=None`` (the paper's model: Gaussian shift,
coordinate decoder, MLP encoder), and with ``lattice=None, decoder="canvas"`` (Gaussian shift,
the canvas decoder drawn once per patch and moved by a phase ramp).  Reported per fit:

* the lattice found, window / step / binning, training time;
* the smoothness of each conventional map (``sv.smoothness``: central Fourier power share;
  the column alternation of the perovskite shows as power at large frequencies);
* jump cells: map cells whose value stands out from the median of their 3 x 3 neighbours by
  more than 6 robust standard deviations (1.4826 x median absolute deviation) of that
  difference, in any conventional map: the isolated cells where the paper's encoder jumps by
  one period;
* the nanoparticle-like check: the fit runs at all (no refusal) on a generated image of
  particles with faint fringes on an amorphous support, and its best map's AUC.

    .venv/bin/python benchmarks/real_images_lattice.py [--images mos2 perovskite]

Writes ``benchmarks/results/real_images_lattice.json`` and map figures under
``docs/figures/lattice_*.png``; fits already in the JSON are not run again unless
``--rerun``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import shiftvae as sv
from shiftvae.analysis.scoring import score_maps
from shiftvae.pipeline.fit import FitConfig
from shiftvae.report import figures

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
IMAGES = {
    "mos2": "mos2_se_implanted_adf.dm3",
    "perovskite": "perovskite_adf_atomap.hdf5",
    "srtio3": "srtio3_haadf.ser",
    "pto": "pto_sro_supercrystal_haadf.hspy",
}
MODELS = {
    "lattice (default)": {},
    "paper": {"lattice": None, "decoder": "coordinate"},
    "no lattice, canvas": {"lattice": None, "decoder": "canvas"},
}
TAGS = {"lattice (default)": "default", "paper": "paper", "no lattice, canvas": "canvas"}


def jump_cells(z: np.ndarray, threshold: float = 6.0) -> int:
    """Cells of any map (l, rows, cols) standing out from their 3 x 3 neighbourhood median."""
    jumps = np.zeros(z.shape[1:], bool)
    for m in z:
        diff = m - ndimage.median_filter(m, size=3, mode="nearest")
        mad = 1.4826 * np.median(np.abs(diff - np.median(diff)))
        jumps |= np.abs(diff) > threshold * max(mad, 1e-12)
    return int(jumps.sum())


def fit_one(image: sv.Image, options: dict, name: str, fig_dir: Path) -> dict:
    tic = time.perf_counter()
    result = sv.fit_image(image, FitConfig(**options), progress=False)
    seconds = time.perf_counter() - tic
    geo, maps = result.geometry, result.maps
    fig = figures.map_panels(maps.z, [f"z{i + 1}" for i in range(len(maps.z))], title=name)
    figures.save(fig, fig_dir / f"lattice_{name}.png")
    return {
        "seconds": round(seconds, 1),
        "window/step/binning": [geo["window"], geo["step"], geo["binning"]],
        "model": [geo["position"], geo["decoder"], geo["encoder"]],
        "lattice_periods": None if geo["lattice"] is None else geo["lattice"]["periods"],
        "smoothness_z": [round(s, 4) for s in result.metrics["smoothness_z"]],
        "jump_cells": jump_cells(maps.z),
        "cells": int(np.prod(maps.z.shape[1:])),
        "reconstruction": round(result.metrics["final_reconstruction"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", nargs="*", default=["mos2", "perovskite"], choices=IMAGES)
    p.add_argument("--json", type=Path, default=HERE / "results" / "real_images_lattice.json")
    p.add_argument("--figures", type=Path, default=HERE.parent / "docs" / "figures")
    p.add_argument("--rerun", action="store_true", help="fit again what --json already holds")
    args = p.parse_args(argv)
    out = json.loads(args.json.read_text()) if args.json.is_file() else {}
    for key in args.images:
        image = sv.read_image(SHARED / IMAGES[key])
        for model, options in MODELS.items():
            tag = f"{key}_{TAGS[model]}"
            if model in out.get(key, {}) and not args.rerun:
                continue
            out.setdefault(key, {})[model] = r = fit_one(image, options, tag, args.figures)
            print(key, model, json.dumps(r), flush=True)
            args.json.write_text(json.dumps(out, indent=1))
    img, truth = sv.synthetic.particles_on_support(size=1024, seed=0)
    tic = time.perf_counter()
    result = sv.fit_image(sv.Image(img, None, "px", "particles"), progress=False)
    scores = score_maps(result.encoding.z_mean.T, result.patches.centers, truth)
    out["particles_1024"] = {
        "auc": scores["auc"],
        "seconds": round(time.perf_counter() - tic, 1),
        "window": result.geometry["window"],
        "lattice": result.geometry["lattice"],
    }
    print("particles", json.dumps(out["particles_1024"]), flush=True)
    args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
