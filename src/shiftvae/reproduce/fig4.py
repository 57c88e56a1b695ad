"""Paper Fig. 4: the 2D synthetic lattice, where the shift-VAE's conventional latents collapse.

(a) A square lattice of 2D Gaussians with positional noise; (b) patches sampled at offsets
uniform over one period, rotated by -2..2 degrees, atomic displacements in [0, 0.1] periods;
(c, d) the VAE's decoded latent manifold and latent distribution; (e, f) the same for the
shift-VAE.  Offsets are the only strong factor of variation, the shift latents absorb them,
and both conventional latents collapse (std of their means < 0.1).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.analysis.manifold import latent_traversal
from shiftvae.report import figures, paper_figures
from shiftvae.reproduce._common import Timer, pick, write_numbers
from shiftvae.studies import LATTICE_DEFAULTS, Study, lattice_study
from shiftvae.synthetic.paper import lattice_image

log = logging.getLogger(__name__)

# quick: a constant beta of 1 makes the collapse appear within 10 epochs on 600 patches
QUICK = {"n": 600, "window": 12, "epochs": 10, "batch_size": 50, "lr": 3e-3, "beta": (1.0, 1.0)}
FULL = {
    "n": 3000,
    "window": 16,
    "epochs": LATTICE_DEFAULTS["epochs"],
    "batch_size": 100,
    "lr": LATTICE_DEFAULTS["lr"],
    "beta": LATTICE_DEFAULTS["beta"],
}
PERIOD = 8.0
DISPLACEMENT = (0.0, 0.1)
MAX_ROTATION_DEG = 2.0


def _data_pngs(study: Study, out_dir: Path, seed: int) -> None:
    image = lattice_image(size=96, period=PERIOD, displacement=0.05, seed=seed)
    fig = figures.map_panels(
        image[None], ["synthetic lattice (positional noise 0.05 period)"], cmap="gray"
    )
    figures.save(fig, out_dir / "fig4a_lattice.png")
    fig = paper_figures.patch_gallery(
        study.data, 16, title="patches: random offsets, rotations ±2°, displacements 0-0.1"
    )
    figures.save(fig, out_dir / "fig4b_patches.png")


def _model_pngs(study: Study, out_dir: Path, n_grid: int) -> None:
    f = study.factors
    panels = []
    for name, run in study.runs.items():
        t = latent_traversal(run.model, n=n_grid, limits=(-2.0, 2.0))
        fig = figures.traversal_grid(
            t.images, t.values, title=f"{name}: patches decoded over z in [-2, 2]²"
        )
        figures.save(fig, out_dir / f"fig4_manifold_{name}.png")
        panels.append(
            (
                name,
                run.encoding.z_mean,
                {
                    "displacement": f["displacement"],
                    "row offset (px)": f["offset"][:, 0],
                    "col offset (px)": f["offset"][:, 1],
                },
            )
        )
    fig = paper_figures.latent_comparison(
        panels, title="Encoded conventional latents (same axes)", share_axes=True
    )
    figures.save(fig, out_dir / "fig4_latents.png")


def run(out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any) -> dict[str, Any]:
    """Train VAE and shift-VAE on lattice patches, write PNGs and numbers.json.

    Parameters
    ----------
    out_dir : Path
        Existing folder that receives ``fig4*.png`` and ``numbers.json``.
    quick : bool
        Few small patches and epochs (the test suite runs this).
    seed : int
    **opts
        Overrides: ``n``, ``window``, ``epochs``, ``batch_size``, ``lr``, ``beta``,
        ``device``, ``n_grid``.

    Examples
    --------
    >>> numbers = run(Path("out"), quick=True)  # doctest: +SKIP
    >>> numbers["results"]["shift_vae"]["collapse"]["std"]  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    sizes = {k: pick(quick, QUICK[k], FULL[k], opts.get(k)) for k in FULL}
    device = opts.get("device", "auto")
    n_grid = pick(quick, 6, 8, opts.get("n_grid"))
    timer = Timer()
    with timer("train"):
        study = lattice_study(
            period=PERIOD,
            max_rotation_deg=MAX_ROTATION_DEG,
            displacement=DISPLACEMENT,
            seed=seed,
            device=device,
            **sizes,
        )
    with timer("figures"):
        _data_pngs(study, out_dir, seed)
        _model_pngs(study, out_dir, n_grid)
    results: dict[str, Any] = {}
    for name, r in study.runs.items():
        results[name] = {
            **r.metrics,
            "train_s": r.seconds,
            "mean_std": float(np.mean(r.metrics["collapse"]["std"])),
            "max_std": float(np.max(r.metrics["collapse"]["std"])),
        }
    results["summary"] = {
        "vae_latent_std": results["vae"]["collapse"]["std"],
        "shift_vae_latent_std": results["shift_vae"]["collapse"]["std"],
        "vae_collapsed": results["vae"]["collapse"]["collapsed"],
        "shift_vae_collapsed": results["shift_vae"]["collapse"]["collapsed"],
        "std_ratio_shift_vae_to_vae": results["shift_vae"]["mean_std"]
        / max(results["vae"]["mean_std"], 1e-12),
    }
    config = {
        **{k: v for k, v in LATTICE_DEFAULTS.items() if k not in sizes},
        **sizes,
        "period": PERIOD,
        "max_rotation_deg": MAX_ROTATION_DEG,
        "displacement": list(DISPLACEMENT),
        "latent_dim": 2,
        "device": device,
        "n_grid": n_grid,
    }
    return write_numbers(out_dir, "fig4", quick, seed, config, results, timer)
