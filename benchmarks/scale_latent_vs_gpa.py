"""The scale latent of fit --rotation --scale beside GPA grain by grain, inside the grains.

One image of bench_grain_strain.py (seed 0, noise 0.08), one fit with defaults: the
relative lattice parameter at each patch centre more than two resolutions from a true
boundary, from the scale latent (over its median) and from GPA's mean normal strain, each
against the truth.

    .venv/bin/python benchmarks/scale_latent_vs_gpa.py     # ~1 min on 2 cores
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import spearmanr

import shiftvae as sv
from shiftvae.analysis.strain import MASK_SHARE
from shiftvae.pipeline.fit import FitConfig, fit_image
from shiftvae.synthetic.grains import polycrystal

SIZE, CELL = 512, 14.0


def main() -> None:
    image, truth = polycrystal(SIZE, CELL, 10, strain=0.03, seed=0)
    tic = time.perf_counter()
    config = FitConfig(rotation="auto", scale="isotropic", seed=0)
    result = fit_image(sv.Image(image, None, "px", "polycrystal"), config, progress=False)
    print(f"fit {time.perf_counter() - tic:.0f} s")
    rows, cols = np.mgrid[:SIZE, :SIZE]
    points = np.column_stack([rows.ravel(), cols.ravel()]).astype(float)
    far = truth.interior((SIZE, SIZE), 2 * CELL / (2 * np.pi * MASK_SHARE))
    centres = result.patches.centers
    pixel = np.rint(centres).astype(int)
    inside = far[pixel[:, 0], pixel[:, 1]]
    scale = result.maps.scale[0].ravel()[inside]
    true = truth.scale(centres[inside])
    error = 100 * (scale / np.median(scale) - true / np.median(true))
    print(
        f"scale latent at {inside.sum()} centres inside the grains: RMS "
        f"{np.sqrt(np.mean(error**2)):.2f}%, Spearman {spearmanr(scale, true)[0]:.2f}"
    )
    maps = result.strain
    ok = far & np.isfinite(maps.exx)
    mean = (maps.exx[ok] + maps.eyy[ok]) / 2
    true = truth.scale(points).reshape(SIZE, SIZE)[ok]
    period = result.metrics["grains"]["common_cell_px"]
    error = mean - 100 * (true * CELL / period - 1)
    print(
        f"GPA grain by grain at {ok.sum()} pixels inside the grains: RMS "
        f"{np.sqrt(np.mean(error**2)):.3f}%, Spearman {spearmanr(mean, true)[0]:.2f}"
    )


if __name__ == "__main__":
    main()
