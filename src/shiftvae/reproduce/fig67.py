"""Paper Figs. 6 and 7: VAE (Fig. 6) and shift-VAE (Fig. 7) analysis of a real image.

For each model: (i) the decoded latent manifold, (ii) the encoded latent distribution,
(iii) the conventional latent maps z1, z2 and, for the shift-VAE, (iv) the shift maps.  The
paper's claim: the VAE's maps are dominated by the beating between the sampling grid and the
lattice, the shift-VAE moves that beating into its shift maps and leaves smooth conventional
maps (higher smoothness / physicality).  The paper's graphene, BiFeO3 and NiO-LSMO images are
not available; the default is the perovskite ADF-STEM image of ``../shared/data``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.analysis.manifold import latent_traversal
from shiftvae.pipeline.fit import FitConfig, FitResult, fit_image, resolve_geometry
from shiftvae.report import figures, paper_figures
from shiftvae.reproduce._common import Timer, crop_center, load_image, pick, write_numbers
from shiftvae.types import Image

log = logging.getLogger(__name__)

PREFIX = {"vae": "fig6", "shift_vae": "fig7"}
QUICK = {"epochs": 5, "step_fraction": 2, "crop": 256}
FULL = {"epochs": "auto", "step_fraction": None, "crop": None}


def fit_config(image: Image, quick: bool, seed: int, opts: dict[str, Any]) -> FitConfig:
    """The image fit shared by both models: window of ~2.5 periods unless given; the step is
    window / 2 (quick, the paper's) or that of ``shiftvae fit`` (full: window / 2, or less on
    small images so that about 2500 patches fit), and the full run trains as long as
    ``shiftvae fit`` does (epochs="auto").  The model is the paper's (``lattice=None``:
    Gaussian shift, coordinate decoder, MLP encoder), not the lattice model of ``fit``."""
    base = FitConfig(
        lattice=None,
        decoder="coordinate",
        window=opts.get("window"),
        epochs=pick(quick, QUICK["epochs"], FULL["epochs"], opts.get("epochs")),
        seed=seed,
        device=opts.get("device", "auto"),
        phases=None,
    )
    geo = resolve_geometry(image, base)
    fraction = pick(quick, QUICK["step_fraction"], FULL["step_fraction"])
    step = opts.get("step") or (geo.step if fraction is None else geo.window // fraction)
    return replace(base, window=geo.window, step=max(1, int(step)))


def _extent(result: FitResult) -> tuple[float, float, float, float]:
    c = result.maps.centers
    half = result.patches.step / 2
    return (c[0, 0, 1] - half, c[0, -1, 1] + half, c[-1, 0, 0] + half, c[0, 0, 0] - half)


def _pngs(result: FitResult, name: str, out_dir: Path) -> None:
    pre = PREFIX[name]
    enc, maps = result.encoding, result.maps
    fig = figures.image_with_grid(
        result.image.data,
        result.maps.centers,
        result.patches.window,
        title=f"{result.image.source.split('/')[-1]}: patch grid",
    )
    figures.save(fig, out_dir / f"{pre}_image_grid.png")
    lim = np.percentile(enc.z_mean, [1, 99], axis=0).T
    t = latent_traversal(result.model, n=8, limits=lim)
    figures.save(
        figures.traversal_grid(t.images, t.values, title=f"{name}: (i) decoded latent manifold"),
        out_dir / f"{pre}_manifold.png",
    )
    fig = paper_figures.latent_density(
        enc.z_mean,
        f"{name}: (ii) encoded latents",
        color=np.arange(len(enc.z_mean)) // maps.z.shape[2],
        label="patch row",
    )
    figures.save(fig, out_dir / f"{pre}_latents.png")
    names = [f"z{i + 1} (smoothness {s:.2f})" for i, s in enumerate(result.metrics["smoothness_z"])]
    fig = figures.map_panels(
        maps.z, names, extent=_extent(result), title=f"{name}: (iii) conventional latent maps"
    )
    figures.save(fig, out_dir / f"{pre}_maps_z.png")
    if maps.shift.shape[0]:
        fig = figures.map_panels(
            maps.shift,
            ["shift rows (px)", "shift cols (px)"],
            extent=_extent(result),
            title=f"{name}: (iv) shift maps",
        )
        figures.save(fig, out_dir / f"{pre}_maps_shift.png")


def result_numbers(result: FitResult) -> dict[str, Any]:
    """Map smoothness, physicality, latent spread and geometry of one image fit."""
    maps = result.maps
    return {
        **result.metrics,
        "physicality_paper_score": float(np.mean([_paper(m) for m in maps.z])),
        "grid_shape": list(maps.z.shape[1:]),
        "z_map_shape": list(maps.z.shape),
        "shift_map_shape": list(maps.shift.shape),
        "maps_finite": bool(np.isfinite(maps.z).all() and np.isfinite(maps.shift).all()),
        "latent_std": result.encoding.z_mean.std(axis=0).tolist(),
        "n_patches": len(result.patches),
        "geometry": result.geometry.as_dict(),
        "timings_s": result.timings,
    }


def _paper(m: np.ndarray) -> float:
    from shiftvae.analysis.smoothness import smoothness

    return smoothness(m, method="paper")


def run(out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any) -> dict[str, Any]:
    """Fit a VAE and/or a shift-VAE to an image, write PNGs and numbers.json.

    Parameters
    ----------
    out_dir : Path
        Existing folder; files are prefixed ``fig6_`` (VAE) and ``fig7_`` (shift-VAE).
    quick : bool
        Central 256 x 256 crop, step = window / 2, 5 epochs (the test suite runs this).
    seed : int
    **opts
        ``models`` (default both ``("vae", "shift_vae")``), ``image`` (path or Image;
        default the perovskite image of ``../shared/data``), ``window``, ``step``,
        ``epochs``, ``crop`` (central square in pixels), ``device``.

    Examples
    --------
    >>> numbers = run(Path("out"), quick=True, models=("shift_vae",))  # doctest: +SKIP
    >>> numbers["results"]["shift_vae"]["physicality"]  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    models = tuple(opts.get("models", ("vae", "shift_vae")))
    timer = Timer()
    image = load_image(opts.get("image"))
    image = crop_center(image, pick(quick, QUICK["crop"], FULL["crop"], opts.get("crop")))
    config = fit_config(image, quick, seed, opts)
    results: dict[str, Any] = {}
    for name in models:
        log.info("%s: fitting a %s to %s", PREFIX[name], name, image.source)
        with timer(f"fit_{name}"):
            result = fit_image(image, replace(config, shift=name == "shift_vae"), progress=False)
        with timer("figures"):
            _pngs(result, name, out_dir)
        results[name] = result_numbers(result)
    figure = "+".join(PREFIX[m] for m in models)
    cfg = {
        "models": list(models),
        "image": image.source,
        "image_shape": list(image.shape),
        "pixel_size": image.pixel_size,
        "unit": image.unit,
        "crop": image.metadata.get("crop"),
        **config.as_dict(),
    }
    return write_numbers(out_dir, figure, quick, seed, cfg, results, timer)
