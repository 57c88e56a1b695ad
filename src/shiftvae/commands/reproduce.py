"""Reproduce a figure of the paper: PNGs plus numbers.json (configuration, seed, numbers).

Figures: fig2 (1D sine latents), fig3 (sine-fit maps and the shift disentanglement
diagram), fig4 (2D lattice: latent collapse), fig6 / fig7 (VAE / shift-VAE analysis of a real
image), fig8 (beta grid search scored by physicality), or all of them (one sub-folder each).
fig6-fig8 use --image, by default ../shared/data/perovskite_adf_atomap.hdf5 next to the
repository; --quick uses a small generated lattice for fig8.  docs/reproduction.md lists the
full run times on 2 CPU cores and compares the numbers with the paper.

Examples:
  shiftvae reproduce fig2 --out fig2
  shiftvae reproduce fig3 --out fig3-quick --quick
  shiftvae reproduce fig7 --out fig7 --image scan.dm3
  shiftvae reproduce all --out paper --quick
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from shiftvae.report.outdir import atomic_output_dir
from shiftvae.reproduce import FIGURES, run_figure
from shiftvae.reproduce._common import to_jsonable

log = logging.getLogger(__name__)

IMAGE_FIGURES = ("fig6", "fig7", "fig8")


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("figure", choices=(*FIGURES, "all"), help="which figure to reproduce")
    p.add_argument("--out", type=Path, required=True, help="output folder (must not exist)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced data and epochs (seconds to a minute; what the tests run)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of data and models (default 0)")
    p.add_argument(
        "--image",
        type=Path,
        default=None,
        help="image for fig6/fig7/fig8 (any format read_image reads)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _options(name: str, args: argparse.Namespace) -> dict:
    opts: dict = {"device": args.device}
    if name in IMAGE_FIGURES and args.image is not None:
        opts["image"] = args.image
    return opts


def _headline(numbers: dict) -> dict:
    results = numbers.get("results", {})
    return results.get("summary", results)


def main(args: argparse.Namespace) -> int:
    tic = time.perf_counter()
    names = list(FIGURES) if args.figure == "all" else [args.figure]
    if args.image is not None and not set(names) & set(IMAGE_FIGURES):
        log.warning(
            "--image is used by %s only; ignored for %s", "/".join(IMAGE_FIGURES), args.figure
        )
    with atomic_output_dir(args.out, overwrite=args.overwrite) as tmp:
        summary = {}
        for name in names:
            folder = tmp / name if len(names) > 1 else tmp
            folder.mkdir(exist_ok=True)
            log.info("reproducing %s%s ...", name, " (quick)" if args.quick else "")
            numbers = run_figure(
                name, folder, quick=args.quick, seed=args.seed, **_options(name, args)
            )
            summary[name] = {"summary": _headline(numbers), "timings_s": numbers["timings_s"]}
        if len(names) > 1:
            text = json.dumps(to_jsonable(summary), indent=2, allow_nan=False)
            (tmp / "numbers.json").write_text(text + "\n", encoding="utf-8")
    log.info("wrote %s in %.0f s", args.out, time.perf_counter() - tic)
    return 0
