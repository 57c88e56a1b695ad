"""Paper Fig. 8: grid search over the beta schedule, scored by physicality, with maps.

One shift-VAE is trained per (beta_start, beta_end) pair on the same patches and seed; the
physicality of each run (largest smoothness of its conventional latent maps, see
:func:`shiftvae.analysis.smoothness.physicality`) fills the heat map, and the conventional
maps of selected grid points (the corners and the best run) are shown beside it.  The paper
found beta_start decisive (small = smooth maps) and beta_end of little effect.

The loop runs in this process, one training after another; ``shiftvae sweep`` runs the same
grid on a Dask cluster and keeps every run's full outputs.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.pipeline.fit import FitConfig, fit_image
from shiftvae.report import figures, paper_figures
from shiftvae.reproduce._common import (
    Timer,
    crop_center,
    default_image_path,
    load_image,
    modulated_lattice,
    pick,
    write_numbers,
)
from shiftvae.reproduce.fig67 import fit_config
from shiftvae.types import Image

log = logging.getLogger(__name__)

PAPER_BETAS = [0.1, 0.5, 1.0, 5.0, 10.0]
QUICK = {"betas": [0.1, 5.0], "epochs": 8, "image_size": 96}
FULL = {"betas": PAPER_BETAS, "epochs": 30, "image_size": 256}


def _image(quick: bool, opts: dict[str, Any], seed: int) -> Image:
    """``--image`` if given; else (full) the default real image, or a generated lattice."""
    if opts.get("image") is not None:
        return crop_center(load_image(opts["image"]), opts.get("crop"))
    if not quick and default_image_path() is not None:
        return crop_center(load_image(None), opts.get("crop"))
    size = pick(quick, QUICK["image_size"], FULL["image_size"], opts.get("image_size"))
    return modulated_lattice(size=size, period=8.0, seed=seed)


def beta_grid(image: Image, config: FitConfig, starts, ends) -> dict[str, Any]:
    """Train every (beta_start, beta_end) pair; arrays are indexed [start, end]."""
    shape = (len(starts), len(ends))
    grid: dict[str, Any] = {
        key: np.full(shape, np.nan)
        for key in ("physicality", "physicality_paper_score", "final_loss", "train_s")
    }
    grid["smoothness_z"] = [[None] * len(ends) for _ in starts]
    grid["maps_z"] = {}
    for i, bs in enumerate(starts):
        for j, be in enumerate(ends):
            result = fit_image(image, replace(config, beta_start=bs, beta_end=be), progress=False)
            m = result.metrics
            grid["physicality"][i, j] = m["physicality"]
            grid["physicality_paper_score"][i, j] = np.mean([_paper(z) for z in result.maps.z])
            grid["final_loss"][i, j] = m["final_loss"]
            grid["train_s"][i, j] = result.timings.get("train", np.nan)
            grid["smoothness_z"][i][j] = m["smoothness_z"]
            grid["maps_z"][(i, j)] = result.maps.z
            log.info("fig8: beta %g -> %g: physicality %.3f", bs, be, m["physicality"])
    return grid


def _paper(m: np.ndarray) -> float:
    from shiftvae.analysis.smoothness import smoothness

    return smoothness(m, method="paper")


def selected_points(values: np.ndarray) -> list[tuple[int, int]]:
    """The four corners of the grid and its best cell, without repeats.

    Examples
    --------
    >>> selected_points(np.array([[0.1, 0.9], [0.2, 0.3]]))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    rows, cols = values.shape
    points = [(0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1)]
    best = np.unravel_index(np.nanargmax(values), values.shape)
    points.append((int(best[0]), int(best[1])))
    return list(dict.fromkeys(points))


def run(out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any) -> dict[str, Any]:
    """Beta grid search heat map and maps at selected grid points.

    Parameters
    ----------
    out_dir : Path
        Existing folder that receives ``fig8_*.png`` and ``numbers.json``.
    quick : bool
        A 2 x 2 grid on a small generated lattice with a smooth intensity modulation.
    seed : int
    **opts
        ``image`` (path or Image), ``beta_starts``, ``beta_ends``, ``epochs``, ``window``,
        ``step``, ``crop``, ``image_size`` (generated lattice), ``device``.

    Examples
    --------
    >>> numbers = run(Path("out"), quick=True)  # doctest: +SKIP
    >>> numbers["results"]["physicality"]  # [beta_start][beta_end]  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    timer = Timer()
    image = _image(quick, opts, seed)
    starts = list(opts.get("beta_starts") or pick(quick, QUICK["betas"], FULL["betas"]))
    ends = list(opts.get("beta_ends") or pick(quick, QUICK["betas"], FULL["betas"]))
    epochs = pick(quick, QUICK["epochs"], FULL["epochs"], opts.get("epochs"))
    config = replace(fit_config(image, quick, seed, {**opts, "epochs": epochs}), shift=True)
    with timer("train"):
        grid = beta_grid(image, config, starts, ends)
    phys = grid["physicality"]
    fig = figures.heatmap(
        phys,
        ends,
        starts,
        "beta_end",
        "beta_start",
        "physicality",
        title="physicality (largest smoothness of z maps)",
    )
    figures.save(fig, out_dir / "fig8_heatmap.png")
    chosen = selected_points(phys)
    fig = paper_figures.selected_maps(
        [
            (f"β {starts[i]:g}→{ends[j]:g} ({phys[i, j]:.2f})", grid["maps_z"][(i, j)])
            for i, j in chosen
        ]
    )
    figures.save(fig, out_dir / "fig8_selected_maps.png")
    best = (
        chosen[-1] if len(chosen) > 4 else tuple(np.unravel_index(np.nanargmax(phys), phys.shape))
    )
    results = {
        "beta_starts": starts,
        "beta_ends": ends,
        **{k: v for k, v in grid.items() if k != "maps_z"},
        "selected": [[starts[i], ends[j]] for i, j in chosen],
        "grid_shape": list(next(iter(grid["maps_z"].values())).shape[1:]),
        "summary": {
            "best_beta": [starts[best[0]], ends[best[1]]],
            "best_physicality": float(np.nanmax(phys)),
            "mean_physicality_by_beta_start": np.nanmean(phys, axis=1).tolist(),
            "mean_physicality_by_beta_end": np.nanmean(phys, axis=0).tolist(),
        },
    }
    cfg = {
        "image": image.source,
        "image_shape": list(image.shape),
        "generated_image": bool(image.metadata.get("generated")),
        **config.as_dict(),
        "beta_starts": starts,
        "beta_ends": ends,
    }
    return write_numbers(out_dir, "fig8", quick, seed, cfg, results, timer)
