"""Paper Fig. 3: sine fits over the latent grid, and the shift disentanglement diagram.

(a-f) A VAE and a shift-VAE are trained on sines with mu ~ U[-3, 3] and sigma in
[1, 2.2, 0.2]; the signal decoded at every point of a latent grid (shift 0 for the
shift-VAE) is fitted with y = delta sin((x - mu) / sigma) + c, giving maps of mu^, sigma^
and delta^.  (g, h) For every (mu spread s, noise amplitude) cell one shift-VAE is trained on
sines with mu ~ U[-s, s]; the encoded shift (in x units) is regressed on the true mu: R^2
and the slope (ratio encoded / true) fill the diagram.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.analysis.manifold import latent_traversal
from shiftvae.analysis.recovery import shift_recovery
from shiftvae.analysis.sinefit import fit_sines
from shiftvae.model.vae import ShiftVAE
from shiftvae.report import figures, paper_figures
from shiftvae.reproduce._common import Timer, pick, write_numbers
from shiftvae.studies import SINE_DEFAULTS, Study, sine_study
from shiftvae.synthetic.paper import DEFAULT_SIGMAS, sine_waves

log = logging.getLogger(__name__)

QUICK = {
    "n": 600,
    "length": 50,
    "epochs": 15,
    "batch_size": 50,
    "n_grid": 8,
    "spreads": [1.5, 6.0],
    "noises": [0.0, 1.0],
}
FULL = {
    "n": 5000,
    "length": 100,
    "epochs": SINE_DEFAULTS["epochs"],
    "batch_size": 100,
    "n_grid": 20,
    "spreads": [1.5, 3.0, 4.5, 6.0],
    "noises": [0.0, 0.33, 0.67, 1.0],
    "cell_n": 2000,
    "cell_epochs": 20,
}


def fit_latent_grid(study: Study, n_grid: int) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Decode an ``n_grid`` square over the 1st-99th percentile of each model's latents
    and fit a sine to every decoded signal (in the units of the generating sine)."""
    x = study.factors["x"]
    maps, values = {}, {}
    for name, run in study.runs.items():
        lim = np.percentile(run.encoding.z_mean, [1, 99], axis=0).T
        t = latent_traversal(run.model, n=n_grid, limits=lim)
        y = 2.0 * t.images - 1.0  # undo the [0, 1] scaling of the data: y = sin(...)
        maps[name] = fit_sines(x, y).as_maps()
        values[name] = t.values
    return maps, values


def map_numbers(maps: dict[str, np.ndarray]) -> dict[str, Any]:
    """Range and spread of each fitted-parameter map (a constant map has std 0)."""
    out: dict[str, Any] = {}
    for key in ("mu", "sigma", "delta", "r2"):
        m = maps[key]
        finite = m[np.isfinite(m)]
        out[key] = {
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
            "std": float(finite.std()) if finite.size else None,
            "median": float(np.median(finite)) if finite.size else None,
        }
    return out


def train_cell(spread: float, noise: float, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """One cell of the diagram: a shift-VAE on sines with mu ~ U[-spread, spread]."""
    tic = time.perf_counter()
    X, f = sine_waves(
        n=cfg["n"],
        length=cfg["length"],
        mu_range=(-spread, spread),
        sigmas=DEFAULT_SIGMAS,
        noise=float(noise),
        seed=seed,
    )
    model = ShiftVAE(
        (cfg["length"],), latent_dim=2, shift=True, shift_scale=cfg["shift_scale"], seed=seed
    )
    model.fit(
        X,
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        beta=cfg["beta"],
        lr=cfg["lr"],
        device=cfg["device"],
        progress=False,
    )
    enc = model.encode(X)
    rec = shift_recovery(enc.shift_mean[:, 0] * f["dx"], f["mu"]).as_dict()
    rec["seconds"] = time.perf_counter() - tic
    log.info(
        "fig3 cell spread ±%g noise %g: R^2 %.3f slope %.3f (%.0f s)",
        spread,
        noise,
        rec["r2"],
        rec["slope"],
        rec["seconds"],
    )
    return rec


def diagram(spreads, noises, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train every (noise, spread) cell; arrays are indexed [noise, spread]."""
    shape = (len(noises), len(spreads))
    r2, slope, secs = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    for i, noise in enumerate(noises):
        for j, spread in enumerate(spreads):
            rec = train_cell(spread, noise, cfg, seed)
            r2[i, j], slope[i, j], secs[i, j] = rec["r2"], rec["slope"], rec["seconds"]
    return {
        "spreads": list(spreads),
        "noises": list(noises),
        "r2": r2,
        "slope": slope,
        "seconds": secs,
    }


def _settings(quick: bool, opts: dict[str, Any]) -> dict[str, Any]:
    s = {k: pick(quick, QUICK.get(k), FULL[k], opts.get(k)) for k in FULL}
    s["cell_n"] = opts.get("cell_n") or (s["n"] if quick else FULL["cell_n"])
    s["cell_epochs"] = opts.get("cell_epochs") or (s["epochs"] if quick else FULL["cell_epochs"])
    s["device"] = opts.get("device", "auto")
    return s


def run(out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any) -> dict[str, Any]:
    """Sine-fit maps of VAE and shift-VAE, and the disentanglement diagram.

    Parameters
    ----------
    out_dir : Path
        Existing folder that receives ``fig3_*.png`` and ``numbers.json``.
    quick : bool
        Small data, few epochs and a 2 x 2 diagram (the test suite runs this).
    seed : int
    **opts
        Overrides: ``n``, ``length``, ``epochs``, ``batch_size``, ``n_grid``, ``spreads``,
        ``noises``, ``cell_n``, ``cell_epochs`` (size of each diagram training), ``device``.

    Examples
    --------
    >>> numbers = run(Path("out"), quick=True)  # doctest: +SKIP
    >>> numbers["results"]["diagram"]["r2"]  # [noise][spread]  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    s = _settings(quick, opts)
    timer = Timer()
    with timer("train_maps"):
        study = sine_study(
            n=s["n"],
            length=s["length"],
            sigmas=DEFAULT_SIGMAS,
            seed=seed,
            device=s["device"],
            epochs=s["epochs"],
            batch_size=s["batch_size"],
        )
    with timer("sine_fits"):
        maps, values = fit_latent_grid(study, s["n_grid"])
    figures.save(paper_figures.sine_fit_maps(maps, values), out_dir / "fig3_sine_fit_maps.png")
    cell_cfg = {
        **SINE_DEFAULTS,
        "n": s["cell_n"],
        "length": s["length"],
        "epochs": s["cell_epochs"],
        "batch_size": s["batch_size"],
        "device": s["device"],
    }
    with timer("train_diagram"):
        diag = diagram(s["spreads"], s["noises"], cell_cfg, seed)
    fig = paper_figures.disentanglement_diagram(
        diag["r2"], diag["slope"], diag["spreads"], diag["noises"]
    )
    figures.save(fig, out_dir / "fig3_disentanglement.png")
    results = {
        "sine_fit_maps": {name: map_numbers(m) for name, m in maps.items()},
        "latent_grid": {name: v for name, v in values.items()},
        "shift_recovery_maps_study": study.runs["shift_vae"].metrics["shift"],
        "diagram": diag,
        "summary": {
            "r2_small_spread_no_noise": float(diag["r2"][0, 0]),
            "r2_large_spread_max_noise": float(diag["r2"][-1, -1]),
            "slope_small_spread_no_noise": float(diag["slope"][0, 0]),
            "vae_mu_hat_std": map_numbers(maps["vae"])["mu"]["std"],
            "shift_vae_mu_hat_std": map_numbers(maps["shift_vae"])["mu"]["std"],
        },
    }
    config = {
        **{k: v for k, v in SINE_DEFAULTS.items() if k not in s},
        **s,
        "sigmas": list(DEFAULT_SIGMAS),
        "mu_range_maps": [-3.0, 3.0],
        "noise_maps": [0.0, 0.1],
        "noise_diagram": "fixed amplitude per cell",
        "latent_dim": 2,
    }
    return write_numbers(out_dir, "fig3", quick, seed, config, results, timer)
