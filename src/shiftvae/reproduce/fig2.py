"""Paper Fig. 2: VAE vs shift-VAE latent distributions on 1D sine segments.

The paper trains a VAE on sines with sigma in [1, 1.6, 0.2] (a) and [1, 2.4, 0.2] (b), and a
shift-VAE on the second set (c), and decodes a grid of latent points (d-f).  Both models are
trained on both sets here.  The measured claim: the shift-VAE moves the offset mu into its
shift latent (R^2 near 1) and out of the conventional latents, one of which collapses while
the other tracks sigma.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.analysis.manifold import latent_traversal
from shiftvae.report import figures, paper_figures
from shiftvae.reproduce._common import Timer, pick, write_numbers
from shiftvae.studies import SINE_DEFAULTS, Study, sine_study

log = logging.getLogger(__name__)

SIGMA_SETS = {
    "sigma_1_to_1.6": tuple(np.round(np.arange(1.0, 1.61, 0.2), 1).tolist()),
    "sigma_1_to_2.4": tuple(np.round(np.arange(1.0, 2.41, 0.2), 1).tolist()),
}
QUICK = {"n": 800, "length": 60, "epochs": 15, "batch_size": 50}
FULL = {"n": 5000, "length": 100, "epochs": SINE_DEFAULTS["epochs"], "batch_size": 100}


def linear_r2(z: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the best linear prediction of ``y`` from all columns of ``z`` (with intercept).

    Examples
    --------
    >>> z = np.arange(10.0)[:, None]
    >>> round(linear_r2(z, 2 * z[:, 0] + 1), 6)
    1.0
    """
    A = np.column_stack([np.asarray(z, float), np.ones(len(z))])
    y = np.asarray(y, float)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return float(1.0 - np.var(y - A @ coef) / np.var(y))


def study_numbers(study: Study) -> dict[str, Any]:
    """Recovery figures of both runs of a sine study, for numbers.json."""
    mu = study.factors["mu"]
    out: dict[str, Any] = {}
    for name, run in study.runs.items():
        m = dict(run.metrics)
        r_mu = np.nan_to_num(np.asarray(m["r_mu"], float))
        m["max_latent_r2_mu"] = float(np.max(r_mu**2))
        m["linear_r2_mu_all_latents"] = linear_r2(run.encoding.z_mean, mu)
        m["max_abs_r_sigma"] = float(np.nanmax(np.abs(m["r_sigma"])))
        m["train_s"] = run.seconds
        out[name] = m
    return out


def _manifold_pngs(study: Study, label: str, out_dir: Path, n_grid: int) -> None:
    for name, run in study.runs.items():
        lim = np.percentile(run.encoding.z_mean, [1, 99], axis=0).T
        t = latent_traversal(run.model, n=n_grid, limits=lim)
        title = f"{name}, {label}: signals decoded over the latent plane (shift 0)"
        figures.save(
            figures.traversal_grid(t.images, t.values, title=title),
            out_dir / f"fig2_manifold_{name}_{label}.png",
        )


def _latent_png(studies: dict[str, Study], out_dir: Path) -> None:
    panels = []
    for label, study in studies.items():
        f = study.factors
        for name, run in study.runs.items():
            panels.append(
                (f"{name}, {label}", run.encoding.z_mean, {"σ": f["sigma"], "μ": f["mu"]})
            )
    fig = paper_figures.latent_comparison(
        panels, title="Encoded conventional latents (paper Fig. 2a-c; same axes)", share_axes=True
    )
    figures.save(fig, out_dir / "fig2_latents.png")


def _shift_png(studies: dict[str, Study], out_dir: Path) -> None:
    panels = []
    for label, study in studies.items():
        f = study.factors
        enc = study.runs["shift_vae"].encoding
        points = np.column_stack([f["mu"], enc.shift_mean[:, 0] * f["dx"]])
        panels.append((f"shift-VAE, {label}", points, {"σ": f["sigma"]}))
    fig = paper_figures.latent_comparison(panels, title="Encoded shift (x units) vs true μ")
    for ax in fig.axes[::2]:
        ax.set_xlabel("true μ")
        ax.set_ylabel("encoded shift")
    figures.save(fig, out_dir / "fig2_shift_vs_mu.png")


def run(out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any) -> dict[str, Any]:
    """Train VAE and shift-VAE on both sigma sets, write PNGs and numbers.json.

    Parameters
    ----------
    out_dir : Path
        Existing folder that receives ``fig2_*.png`` and ``numbers.json``.
    quick : bool
        Small data and few epochs (seconds; the test suite runs this).
    seed : int
        Seeds the data and the models.
    **opts
        Overrides: ``n``, ``length``, ``epochs``, ``batch_size``, ``device``, ``n_grid``.

    Returns
    -------
    dict
        The content of numbers.json; ``results["summary"]`` holds the headline figures.

    Examples
    --------
    >>> numbers = run(Path("out"), quick=True)  # doctest: +SKIP
    >>> numbers["results"]["summary"]["shift_vae_shift_r2"]  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    base = QUICK if quick else FULL
    sizes = {k: pick(quick, QUICK[k], FULL[k], opts.get(k)) for k in base}
    device = opts.get("device", "auto")
    n_grid = pick(quick, 6, 10, opts.get("n_grid"))
    timer = Timer()
    studies: dict[str, Study] = {}
    for label, sigmas in SIGMA_SETS.items():
        log.info("fig2: sigma set %s: training a VAE and a shift-VAE", label)
        with timer(f"train_{label}"):
            studies[label] = sine_study(sigmas=sigmas, seed=seed, device=device, **sizes)
    with timer("figures"):
        _latent_png(studies, out_dir)
        _shift_png(studies, out_dir)
        for label, study in studies.items():
            _manifold_pngs(study, label, out_dir, n_grid)
    per_set = {label: study_numbers(s) for label, s in studies.items()}
    wide = per_set["sigma_1_to_2.4"]
    summary = {
        "shift_vae_shift_r2": wide["shift_vae"]["shift"]["r2"],
        "shift_vae_shift_slope": wide["shift_vae"]["shift"]["slope"],
        "shift_vae_max_latent_r2_mu": max(
            p["shift_vae"]["max_latent_r2_mu"] for p in per_set.values()
        ),
        "vae_max_latent_r2_mu": max(p["vae"]["max_latent_r2_mu"] for p in per_set.values()),
        "vae_linear_r2_mu_all_latents": max(
            p["vae"]["linear_r2_mu_all_latents"] for p in per_set.values()
        ),
        "shift_vae_collapsed": wide["shift_vae"]["collapse"]["collapsed"],
        "shift_vae_max_abs_r_sigma": wide["shift_vae"]["max_abs_r_sigma"],
    }
    config = {
        **{k: v for k, v in SINE_DEFAULTS.items() if k not in sizes},
        **sizes,
        "sigma_sets": SIGMA_SETS,
        "mu_range": [-3.0, 3.0],
        "noise": [0.0, 0.1],
        "latent_dim": 2,
        "device": device,
        "n_grid": n_grid,
    }
    results = {"summary": summary, **per_set}
    return write_numbers(out_dir, "fig2", quick, seed, config, results, timer)
