"""Order parameters with known truth: shiftvae against the plain VAE and an atom-centred PCA.

Every case of ``sv.synthetic.benchmark_family`` (two-sublattice crystals with an intensity
ratio field, displacement domains, two phases, SrTiO3- and BiFeO3-like displacement domains,
and nanoparticles with faint fringes on an amorphous support; each with noise and scan
distortions) is fitted by:

* ``defaults``: ``fit_image`` with default options (``shiftvae fit IMAGE``);
* ``paper``: the paper's model (``--lattice none --decoder coordinate``: Gaussian shift,
  coordinate decoder);
* ``no-lattice``: ``--lattice none``: the Gaussian shift with the canvas decoder;
* ``vae``: the paper's plain VAE (``--lattice none --decoder coordinate --no-shift``);
* ``window2``, ``latent3``, ``atoms``, ``grid``: defaults with a 2-cell window, with 3
  conventional latents, with patches centred on the brightest columns (``--centers atoms``,
  the default from 8 x 8 cells up) or on the paper's square grid; the "best options" column
  is the best of defaults and the first three;
* ablations: ``mlp-encoder`` (the encoder reads pixels, not the aligned lattice
  coefficients) and ``gaussian-position`` (the paper's Gaussian shift with the lattice coder);
* ``bin2`` .. ``bin4``: defaults on the image averaged in 2 x 2 .. 4 x 4 blocks first (how
  many pixels per cell a displacement of a tenth of the cell needs to survive);
* ``pca-bright`` / ``pca-all``: patches of 1.5 cells centred on the local maxima of the
  smoothed image (brighter sublattice only / every column), then PCA (4 components);
  ``pca-bright-flat``: the same after removing the background as a fit does (on the
  antiphase cases the side of the boundary follows the background gradient, and so does the
  first component of the raw image).

Each method gives a few maps (latents or PCA components) sampled at its patch centres; the
table reports the best |Spearman| of any map with the case's field and the best AUC of any
map (max(AUC, 1 - AUC): a latent's sign is arbitrary) for its domain or phase label, and for
fits with the torus position the share of cells read half a cell off against the truth's own
phase (``half_cell_share``: where the nearest A column sits).  Every method's maps are also
scored after averaging over neighbouring cells (``smoothed``; ``smooth_over_cells``, the width
chosen by cross-validation), the fit's own ``z_smooth`` maps and the PCA's components alike.
Where the registration finds an antiphase boundary, the AUC of its branch map (which side of
the boundary a cell is on, what the tool reports for it) with the truth's side is given too
("branch").

``truth-columns`` (registration family) is no method but a limit: the B/A peak ratio read at
the true columns of each cell, with no model, per cell and smoothed; on the domain cases also
the |Spearman| of the true domain label with the field (a saturated step's ceiling).

``--family registration`` runs the cases of ``shiftvae.synthetic.alike_crystals``: B/A ratio up to
equal, displacement domains under it, antiphase boundaries with and without it, a turned
lattice; each with a background gradient, scan jitter and Poisson noise at 0.08 and 0.2.

    .venv/bin/python benchmarks/bench_order_parameters.py               # all, ~30 min, 2 cores
    .venv/bin/python benchmarks/bench_order_parameters.py --cases sto_like --methods defaults
    .venv/bin/python benchmarks/bench_order_parameters.py --family registration \
        --methods defaults vae pca-bright

Results go to ``benchmarks/results/bench_order_parameters.json`` (``--json``); a finished
(case, method) pair found there is not run again unless ``--rerun``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import shiftvae as sv
from shiftvae.analysis.baseline import evaluate_baseline
from shiftvae.analysis.scoring import score_maps
from shiftvae.pipeline.fit import FitConfig
from shiftvae.synthetic.alike_crystals import half_cell_share, registration_family

HERE = Path(__file__).resolve().parent
FITS = {
    "defaults": {},
    "paper": {"lattice": None, "decoder": "coordinate"},
    "vae": {"lattice": None, "decoder": "coordinate", "shift": False},
    "no-lattice": {"lattice": None},
    "window2": {"window": "2 cells"},
    "latent3": {"latent_dim": 3},
    "atoms": {"centers": "atoms"},
    "grid": {"centers": "grid"},
    "mlp-encoder": {"encoder": "mlp"},
    "gaussian-position": {"position": "gaussian"},
    "bin2": {"binning": 2},
    "bin3": {"binning": 3},
    "bin4": {"binning": 4},
}
BASELINES = {"pca-bright": "bright", "pca-all": "all", "pca-bright-flat": "bright"}
BEST_OF = ("defaults", "window2", "latent3", "atoms")
ORACLES = ("truth-columns",)


def truth_columns(image: np.ndarray, truth) -> dict:
    """What one cell can say with no model: each B column's peak over its nearest A's, read
    at the true sites (the image smoothed by the column width less its mean over one cell),
    scored as the maps are, and smoothed over neighbouring cells.  On a case with domains the
    true domain label is scored too (``label_spearman``): the |Spearman| of a perfect domain
    map with a saturated step, the ceiling of any map that only tells the domains apart."""
    from scipy import ndimage

    from shiftvae.analysis.smoothing import smooth_over_cells

    tic = time.perf_counter()
    cell = float(np.linalg.norm(truth.lattice_vectors[0]))
    data = np.asarray(image, dtype=np.float64)
    peaks = ndimage.gaussian_filter(data, cell / 10) - ndimage.uniform_filter(data, int(cell))
    a, b = truth.sites["A"], truth.sites["B"]
    inner = (b.min(axis=1) > cell) & (b.max(axis=1) < np.array(data.shape).min() - cell)
    b = b[inner]
    nearest = a[np.argmin(((b[:, None] - a[None]) ** 2).sum(-1), axis=1)]
    ratio = ndimage.map_coordinates(peaks, b.T, order=1) / ndimage.map_coordinates(
        peaks, nearest.T, order=1
    )
    out = score_maps(ratio[None], b, truth)
    out["smoothed"] = score_maps(smooth_over_cells(ratio[None], b, cell, cell).values, b, truth)
    if truth.params.get("displacement"):
        out["label_spearman"] = score_maps(truth.label(b)[None].astype(float), b, truth)["spearman"]
    return {**out, "seconds": time.perf_counter() - tic}


def run_fit(image: np.ndarray, truth, options: dict, seed: int) -> dict:
    options = dict(options)
    if options.get("window") == "2 cells":
        options["window"] = round(2 * float(np.linalg.norm(truth.lattice_vectors, axis=1).max()))
    tic = time.perf_counter()
    result = sv.fit_image(
        sv.Image(image, None, "px", truth.name), FitConfig(seed=seed, **options), progress=False
    )
    seconds = time.perf_counter() - tic
    scores = score_maps(result.encoding.z_mean.T, result.patches.centers, truth)
    smoothed = None
    if result.maps.z_smooth is not None:
        z_smooth = result.maps.z_smooth.reshape(len(result.maps.z_smooth), -1)
        smoothed = score_maps(z_smooth, result.patches.centers, truth)
        smoothed["smoothing_px"] = list(result.maps.smoothing_px)
    geo = result.geometry
    half = outside = None
    if result.encoding.phase_mean is not None and "A" in truth.sites:
        half = half_cell_share(result.encoding.shift_mean, result.patches.centers, truth)
        outside = half_cell_share(
            result.encoding.shift_mean, result.patches.centers, truth, geo["window"]
        )
    branch = None  # the registration's side of an antiphase boundary, where it found one
    reg = result.model.registration_
    if reg is not None and reg.branch.any() and len(reg.branch) == len(result.patches.centers):
        branch = score_maps(reg.branch[None].astype(float), result.patches.centers, truth)["auc"]
    return {
        **scores,
        "smoothed": smoothed,
        "auc_branch": branch,
        "half_cell": half,
        "half_cell_outside_boundaries": None if half is None else outside,
        "registration": result.metrics.get("registration"),
        "seconds": seconds,
        "physicality": result.metrics["physicality"],
        "window": geo["window"],
        "step": geo["step"],
        "binning": geo["binning"],
        "model": [geo["position"], geo["decoder"], geo["encoder"]],
        "lattice_periods": None if geo["lattice"] is None else geo["lattice"]["periods"],
    }


def table(results: dict) -> str:
    """Markdown: one row per case, |Spearman| / AUC per method."""
    methods = [*FITS, "best options", *BASELINES]
    lines = [
        "| case | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for case, by_method in results.items():
        cells = []
        for m in methods:
            if m == "best options":
                tried = [by_method[k] for k in BEST_OF if k in by_method]
                r = _best(tried)
            else:
                r = by_method.get(m)
            cells.append(_cell(r))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _best(tried: list[dict]) -> dict | None:
    if not tried:
        return None
    key = "auc" if tried[0].get("spearman") is None else "spearman"
    return max(tried, key=lambda r: (r.get(key) or 0, r.get("auc") or 0))


def _cell(r: dict | None) -> str:
    if r is None:
        return "-"
    if "error" in r:
        return "n/a"
    rho = "-" if r.get("spearman") is None else f"{r['spearman']:.2f}"
    auc = "-" if r.get("auc") is None else f"{r['auc']:.2f}"
    if r.get("auc_branch") is not None:  # the antiphase side, read from the registration
        auc += f" (branch {r['auc_branch']:.2f})"
    half = "" if r.get("half_cell") is None else f" / {100 * r['half_cell']:.1f}%"
    smooth = r.get("smoothed")
    if smooth:  # the maps averaged over neighbouring cells
        s_rho = "-" if smooth.get("spearman") is None else f"{smooth['spearman']:.2f}"
        s_auc = "-" if smooth.get("auc") is None else f"{smooth['auc']:.2f}"
        half += f" (smoothed {s_rho} / {s_auc})"
    return f"{rho} / {auc}{half}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", help="cases of the family (default: all)")
    p.add_argument(
        "--methods",
        nargs="*",
        default=[*FITS, *BASELINES],
        help="fits, baselines, "
        "or truth-columns (registration family: the B/A ratio at the true columns)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the images and the models")
    p.add_argument(
        "--noise",
        type=float,
        help="relative noise at an A column's peak for every case (default: each case's "
        "own, 0.08); the JSON then goes to bench_order_parameters_noiseN.json",
    )
    p.add_argument(
        "--family",
        choices=("order", "registration"),
        default="order",
        help="the order-parameter family, or the registration family (sublattices that "
        "become alike, antiphase boundaries; each at noise 0.08 and 0.2); its JSON goes to "
        "bench_registration.json",
    )
    p.add_argument("--json", type=Path, default=HERE / "results" / "bench_order_parameters.json")
    p.add_argument("--rerun", action="store_true", help="run pairs already in --json again")
    args = p.parse_args(argv)
    microscope = None
    if args.noise is not None:
        microscope = sv.synthetic.Microscope(noise_level=args.noise)
        if args.json == p.get_default("json"):
            args.json = args.json.with_name(f"bench_order_parameters_noise{args.noise:g}.json")
    if args.family == "registration":
        family = registration_family(seed=args.seed)
        if args.json == p.get_default("json"):
            args.json = args.json.with_name("bench_registration.json")
    else:
        family = sv.synthetic.benchmark_family(seed=args.seed, microscope=microscope)
    cases = args.cases or list(family)
    stored = json.loads(args.json.read_text()) if args.json.is_file() else {}
    results = stored.get("results", {})
    for case in cases:
        image, truth = family[case]
        for method in args.methods:
            if method in results.get(case, {}) and not args.rerun:
                continue
            if method in ORACLES:
                r = truth_columns(image, truth)
            elif method in BASELINES:
                flat = method.endswith("-flat")
                r = evaluate_baseline(image, truth, sublattice=BASELINES[method], flatten=flat)
            else:
                try:
                    r = run_fit(image, truth, FITS[method], args.seed)
                except sv.InputError as exc:  # e.g. centres on atoms of an image without lattice
                    r = {"error": str(exc), "seconds": 0.0}
            results.setdefault(case, {})[method] = r
            print(f"{case:22s} {method:11s} {_cell(r):14s} {r['seconds']:6.1f} s", flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            record = {
                "command": "python benchmarks/bench_order_parameters.py " + " ".join(sys.argv[1:]),
                "seed": args.seed,
                "noise_level": args.noise,
                "shiftvae": sv.__version__,
                "results": results,
            }
            args.json.write_text(json.dumps(record, indent=1, default=float))
    print(table({c: results[c] for c in cases if c in results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
