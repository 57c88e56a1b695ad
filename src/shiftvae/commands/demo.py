"""Run the whole method on generated data and write a report (no files needed).

Trains a plain VAE and a shift-VAE on the paper's 1D sine segments and on 2D square-lattice
patches, fits a generated crystal image with two displacement domains, then writes
report.html (with the explorer of the crystal's fit), figures/*.png, results.h5 and run.json
into --out.

Examples:
  shiftvae demo --out shiftvae-demo
  shiftvae demo --out demo-small --quick
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import h5py
import numpy as np

from shiftvae.analysis.manifold import latent_traversal
from shiftvae.report import figures
from shiftvae.report.h5tree import write_tree
from shiftvae.report.html import Section, write_report
from shiftvae.report.outdir import atomic_output_dir
from shiftvae.report.runinfo import run_info, write_run_json
from shiftvae.studies import Study, lattice_study, sine_study

log = logging.getLogger(__name__)


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("shiftvae-demo"), help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--quick", action="store_true", help="small data and few epochs (seconds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _metrics_rows(sine: Study, lattice: Study) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, run in sine.runs.items():
        m = run.metrics
        shift = m.get("shift", {})
        rows.append(
            [
                "1D sine",
                name,
                f"{shift['r2']:.4f}" if shift else "n/a",
                f"{shift['slope']:.3f}" if shift else "n/a",
                " / ".join(f"{s:.3f}" for s in m["collapse"]["std"]),
                " / ".join(f"{abs(r):.3f}" for r in m["r_sigma"]),
                f"{run.seconds:.1f}",
            ]
        )
    for name, run in lattice.runs.items():
        m = run.metrics
        rows.append(
            [
                "2D lattice",
                name,
                "n/a",
                "n/a",
                " / ".join(f"{s:.3f}" for s in m["collapse"]["std"]),
                "n/a",
                f"{run.seconds:.1f}",
            ]
        )
    return rows


HEADER = [
    "data",
    "model",
    "shift R² vs μ",
    "shift slope",
    "std of z means (z1 / z2)",
    "|r| with σ (z1 / z2)",
    "train s",
]


def _sine_figures(study: Study, fig_dir: Path) -> list[tuple[Path, str]]:
    f = study.factors
    out = []
    for name, run in study.runs.items():
        enc = run.encoding
        fig = figures.latent_scatter(
            enc.z_mean,
            {"μ": f["mu"], "σ": f["sigma"]},
            title=f"{name}: conventional latents, 1D sines",
        )
        out.append(
            (
                figures.save(fig, fig_dir / f"sine_{name}_latents.png"),
                f"{name}: latent means coloured by the true offset μ and period σ",
            )
        )
        lim = np.percentile(enc.z_mean, [1, 99], axis=0).T
        t = latent_traversal(run.model, n=8, limits=lim)
        fig = figures.traversal_grid(t.images, t.values, title=f"{name}: decoded latent grid")
        out.append(
            (
                figures.save(fig, fig_dir / f"sine_{name}_manifold.png"),
                f"{name}: signals decoded over the latent plane (1st-99th percentile)",
            )
        )
    enc = study.runs["shift_vae"].encoding
    x_shift = enc.shift_mean[:, 0] * f["dx"]
    fig = figures.latent_scatter(
        np.column_stack([f["mu"], x_shift]),
        {"σ": f["sigma"]},
        labels=("true μ", "encoded shift (x units)"),
        title="shift-VAE: encoded shift vs true offset",
    )
    out.append(
        (
            figures.save(fig, fig_dir / "sine_shift_vs_mu.png"),
            "shift-VAE: encoded shift (pixels converted to x units) against the true μ",
        )
    )
    return out


def _lattice_figures(study: Study, fig_dir: Path) -> list[tuple[Path, str]]:
    f = study.factors
    out = []
    for name, run in study.runs.items():
        fig = figures.latent_scatter(
            run.encoding.z_mean,
            {"row offset (px)": f["offset"][:, 0], "displacement": f["displacement"]},
            title=f"{name}: conventional latents, lattice patches",
        )
        out.append(
            (
                figures.save(fig, fig_dir / f"lattice_{name}_latents.png"),
                f"{name}: latent means coloured by the true offset and atomic displacement",
            )
        )
        t = latent_traversal(run.model, n=8, limits=(-2, 2))
        fig = figures.traversal_grid(t.images, t.values, title=f"{name}: decoded latent grid")
        out.append(
            (
                figures.save(fig, fig_dir / f"lattice_{name}_manifold.png"),
                f"{name}: patches decoded over z in [-2, 2]²",
            )
        )
    return out


def _h5_tree(study: Study) -> dict:
    tree: dict = {
        "@attrs": {"config": study.config},
        "factors": {k: np.asarray(v) for k, v in study.factors.items()},
    }
    for name, run in study.runs.items():
        e = run.encoding
        tree[name] = {
            "z_mean": e.z_mean,
            "z_std": e.z_std,
            "shift_mean": e.shift_mean,
            "shift_std": e.shift_std,
            "history": {k: np.asarray(v) for k, v in run.model.history_.as_dict().items()},
            "@attrs": {"metrics": run.metrics},
        }
    return tree


def _crystal_explorer(args: argparse.Namespace) -> tuple[str, str, str]:
    """The explorer (head, title, body) of ``fit`` on a generated crystal: B columns moved
    by +-2 px in two domains meeting at a curved wall."""
    from shiftvae.explore.explorer import explorer_data, explorer_html
    from shiftvae.pipeline.fit import FitConfig, fit_image
    from shiftvae.synthetic.crystals import displacement_domain_crystal

    size = 256 if args.quick else 384
    image, _ = displacement_domain_crystal(size=size, seed=args.seed)
    config = FitConfig(seed=args.seed, device=args.device, epochs=5 if args.quick else "auto")
    fit = fit_image(image, config, progress=True)
    head, body = explorer_html(
        explorer_data(fit.image, fit.maps, fit.patches, fit.model, fit.encoding)
    )
    title = f"Explore a fitted crystal ({size} px, B moved by +-2 px in two domains): click a cell"
    return head, title, body


def main(args: argparse.Namespace) -> int:
    tic = time.perf_counter()
    sizes = ({"n": 1000, "epochs": 5}, {"n": 400, "epochs": 5}) if args.quick else ({}, {})
    with atomic_output_dir(args.out, overwrite=args.overwrite) as tmp:
        log.info("1D sine waves: training a VAE and a shift-VAE ...")
        sine = sine_study(seed=args.seed, device=args.device, progress=True, **sizes[0])
        t_sine = time.perf_counter() - tic
        log.info("2D lattice patches: training a VAE and a shift-VAE ...")
        lattice = lattice_study(seed=args.seed, device=args.device, progress=True, **sizes[1])
        t_lattice = time.perf_counter() - tic - t_sine
        log.info("a crystal image with two displacement domains: fitting it ...")
        explorer = _crystal_explorer(args)
        t_crystal = time.perf_counter() - tic - t_sine - t_lattice
        fig_dir = tmp / "figures"
        sine_figs = _sine_figures(sine, fig_dir)
        lattice_figs = _lattice_figures(lattice, fig_dir)
        curves = [
            (
                figures.save(
                    figures.history_curves(r.model.history_.as_dict(), f"{s} {n}"),
                    fig_dir / f"{s}_{n}_training.png",
                ),
                f"training curves, {s} {n}",
            )
            for s, st in (("sine", sine), ("lattice", lattice))
            for n, r in st.runs.items()
        ]
        with h5py.File(tmp / "results.h5", "w") as h5:
            write_tree(h5, {"sine": _h5_tree(sine), "lattice": _h5_tree(lattice)})
        shift = sine.runs["shift_vae"].metrics["shift"]
        sections = [
            Section(
                "Recovery figures",
                tables=[(HEADER, _metrics_rows(sine, lattice))],
                text=(
                    "1D: the shift-VAE should put the offset μ into its shift latent (R² near 1, "
                    "slope near 1 in x units), leave one conventional latent collapsed (std of "
                    "means below 0.1) and track σ with the other. 2D: with only offsets varying, "
                    "both conventional latents of the shift-VAE collapse; the VAE's do not."
                ),
            ),
            Section(
                "1D sine segments (paper Fig. 2)",
                figures=sine_figs,
                text=(
                    f"{len(sine.data)} segments of {sine.data.shape[1]} samples; shift-VAE shift "
                    f"vs μ: R² = {shift['r2']:.4f}, slope = {shift['slope']:.3f}."
                ),
            ),
            Section(
                "2D lattice patches (paper Fig. 4)",
                figures=lattice_figs,
                text=(
                    f"{len(lattice.data)} patches of {lattice.data.shape[1]} px, offsets uniform "
                    "over one period, rotations within ±2°."
                ),
            ),
            Section("Training", figures=curves),
        ]
        write_report(
            tmp / "report.html",
            "shiftvae demo",
            sections,
            meta=f"seed {args.seed}; configuration in run.json",
            interactive=explorer,
        )
        write_run_json(
            tmp / "run.json",
            run_info(
                args.seed,
                {
                    "sine": t_sine,
                    "lattice": t_lattice,
                    "crystal": t_crystal,
                    "total": time.perf_counter() - tic,
                },
                sine=sine.config,
                lattice=lattice.config,
                metrics={
                    "sine": {k: r.metrics for k, r in sine.runs.items()},
                    "lattice": {k: r.metrics for k, r in lattice.runs.items()},
                },
            ),
        )
    log.info("wrote %s/report.html in %.0f s", args.out, time.perf_counter() - tic)
    return 0
