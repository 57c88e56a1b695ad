"""Classes with known truth: ``fit --classes K`` against a Gaussian mixture on the latents.

Cases (``shiftvae.synthetic.class_crystals``), each at two noise levels:

* ``variants``: four polarisation variants (B displaced along +-a1, +-a2) in 8 domains;
* ``interface``: two phases (B/A 0.25 and 0.6) meeting at a curved interface;
* ``defects``: a honeycomb with vacancies, substitutions and adatoms (K = 4 with pristine);
* ``series``: four frames of the interface in which phase 1 grows (the interface advances
  by 40 px a frame), fitted together in one latent space (``fit_images``); scored over the
  cells of all frames, and by the share of phase 1 found in each frame against the truth's.

Methods:

* ``classes``: ``fit_image`` with ``classes=K`` (the mixture prior trained with the latents);
* ``gmm``: ``fit_image`` with defaults, then a K-component Gaussian mixture on the
  standardised latent means (today's phases with K given);
* ``classes-N``: ``classes=K`` with N labelled cells per class (``--labels 1 5 20``),
  scored on the unlabelled cells;
* ``--peers``: pyroVED's jiVAE (unsupervised) and ssiVAE (with the same labels) on the
  default fit's patches, in ``.venv-bench`` (:mod:`classes_peers`).

Per-cell scores against the class at each patch centre: the adjusted Rand index, and the
accuracy after matching classes to truth (Hungarian), over all cells and over the *clear*
cells: for domains and phases, those whose eight neighbours share their class (a cell on a
wall sees both sides); for defects, those with a defect within 1.2 bonds of the centre (the
class) or none within 0.75 windows (pristine); a patch with a defect at its rim is neither.
Written to ``benchmarks/results/bench_classes.json``.

    .venv/bin/python benchmarks/bench_classes.py                    # all cases, ~15 min
    .venv/bin/python benchmarks/bench_classes.py --cases variants --noise 0.08
    .venv/bin/python benchmarks/bench_classes.py --cases defects --labels 1 5 20
    .venv/bin/python benchmarks/bench_classes.py --labels 5 --peers   # + pyroVED, ~1 h
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from class_scores import matched_accuracy
from sklearn.metrics import adjusted_rand_score

import shiftvae as sv
from shiftvae.pipeline.fit import FitConfig
from shiftvae.synthetic.class_crystals import (
    honeycomb_defects,
    interface_phases,
    polarisation_variants,
)
from shiftvae.synthetic.crystal_scene import Microscope

HERE = Path(__file__).resolve().parent
CASES = {
    "variants": (polarisation_variants, 4),
    "interface": (interface_phases, 2),
    "defects": (honeycomb_defects, 4),
}


def scores(truth: np.ndarray, found: np.ndarray, k: int, keep=None) -> dict:
    keep = np.ones(len(truth), bool) if keep is None else keep
    t, f = truth[keep], found[keep]
    return {
        "ari": round(float(adjusted_rand_score(t, f)), 3),
        "accuracy": round(matched_accuracy(t, f, k), 3),
    }


def clear_cells(name: str, truth, cells: np.ndarray, patches) -> np.ndarray:
    """Cells whose true class is what their patch shows (see the module's text)."""
    if name == "defects":
        from scipy.spatial import cKDTree

        bond = truth.params["bond"]
        d = cKDTree(truth.sites["defects"]).query(patches.centers)[0]
        return (d < 1.2 * bond) | (d > 0.75 * patches.window * patches.binning)
    from scipy.ndimage import maximum_filter, minimum_filter

    grid = cells.reshape(patches.grid_shape)
    same = maximum_filter(grid, size=3, mode="nearest") == minimum_filter(grid, 3, mode="nearest")
    return same.ravel()


def pick_labels(truth: np.ndarray, per_class: int, k: int, seed: int) -> np.ndarray:
    """``per_class`` random cells of each class labelled, -1 elsewhere."""
    rng = np.random.default_rng(seed)
    labels = np.full(len(truth), -1)
    for c in range(k):
        where = np.flatnonzero(truth == c)
        labels[rng.choice(where, min(per_class, len(where)), replace=False)] = c
    return labels


PEERS = {  # environment, script, setup
    "pyroVED": (".venv-bench", "classes_peers.py", "setup_bench_env.sh"),
    "atomai": (".venv-atomai", "classes_atomai.py", "setup_atomai_env.sh"),
}


def run_peers(
    patches, cells, clear, k: int, labels: dict, epochs: int, peers=("pyroVED", "atomai")
) -> dict:
    """pyroVED's jiVAE and ssiVAE (in .venv-bench) and atomai's jrVAE (in .venv-atomai) on
    these patches; a peer whose environment is missing is left out, and said so."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "case.npz"
        extra = {f"labels_{n}": v for n, v in labels.items()}
        np.savez(npz, patches=patches, truth=cells, clear=clear, classes=k, **extra)
        for name in peers:
            env, script, setup = PEERS[name]
            python = HERE.parent / env / "bin" / "python"
            if not python.is_file():
                print(f"no {env}: {name} not run (bash benchmarks/{setup})")
                continue
            cmd = [str(python), str(HERE / script), str(npz), "--epochs", str(epochs)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr[-3000:])
                out[f"{name}_failed"] = done.stderr.strip().splitlines()[-1]
                continue
            out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def run_series(noise: float, seed: int, auto: bool = False) -> dict:
    """Four frames in which phase 1 grows, fitted together (with and without classes; with
    ``auto``, also with ``classes="auto"``, recording the number chosen)."""
    from sklearn.mixture import GaussianMixture

    frames = [
        interface_phases(microscope=Microscope(noise_level=noise), seed=seed, advance=a)
        for a in (-60.0, -20.0, 20.0, 60.0)
    ]
    images = [f[0] for f in frames]
    out: dict = {"case": "series", "noise": noise, "seed": seed, "k": 2}
    base = sv.fit_images(images, FitConfig(seed=seed), progress=False)
    cells = [t.classes(r.patches.centers) for (_, t), r in zip(frames, base.results)]
    truth = np.concatenate(cells)
    z = np.concatenate([r.encoding.z_mean for r in base.results])
    z = (z - z.mean(0)) / z.std(0)
    gmm = GaussianMixture(2, random_state=seed, n_init=3).fit_predict(z)
    fit = sv.fit_images(images, FitConfig(seed=seed, classes=2), progress=False)
    found = np.concatenate([r.encoding.classes for r in fit.results])
    one = 1 if np.mean(found[truth == 1] == 1) > 0.5 else 0  # which class is phase 1
    out["gmm"] = scores(truth, gmm, 2)
    out["classes"] = scores(truth, found, 2)
    out["phase1_share_true"] = [round(float(np.mean(c == 1)), 3) for c in cells]
    out["phase1_share_found"] = [
        round(float(np.mean(r.encoding.classes == one)), 3) for r in fit.results
    ]
    if auto:
        chosen = sv.fit_images(images, FitConfig(seed=seed, classes="auto"), progress=False)
        out["auto_classes"] = int(chosen.results[0].maps.class_probs.shape[0])
    print(json.dumps(out), flush=True)
    return out


def run_case(
    name: str,
    noise: float,
    label_counts: list[int],
    seed: int,
    peers: int = 0,
    latent_dim: int = 2,
    peer_names=tuple(PEERS),
) -> dict:
    make, k = CASES[name]
    image, truth = make(microscope=Microscope(noise_level=noise), seed=seed)
    out: dict = {"case": name, "noise": noise, "seed": seed, "k": k, "latent_dim": latent_dim}
    tic = time.perf_counter()
    base = sv.fit_image(image, FitConfig(seed=seed, latent_dim=latent_dim), progress=False)
    centres = base.patches.centers
    cells = truth.classes(centres)
    clear = clear_cells(name, truth, cells, base.patches)
    out["cells"] = np.bincount(cells, minlength=k).tolist()
    out["clear_share"] = round(float(clear.mean()), 3)
    z = base.encoding.z_mean
    z = (z - z.mean(0)) / z.std(0)
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(k, random_state=seed, n_init=3).fit_predict(z)
    out["gmm"] = {
        **scores(cells, gmm, k),
        "clear": scores(cells, gmm, k, clear),
        "seconds": round(time.perf_counter() - tic, 1),
    }
    tic = time.perf_counter()
    config = FitConfig(seed=seed, classes=k, latent_dim=latent_dim)
    fit = sv.fit_image(image, config, progress=False)
    found = fit.encoding.classes
    out["classes"] = {
        **scores(cells, found, k),
        "clear": scores(cells, found, k, clear),
        "seconds": round(time.perf_counter() - tic, 1),
    }
    chosen = {}
    for n in label_counts:
        labels = chosen[n] = pick_labels(cells, n, k, seed)
        from shiftvae.pipeline import fit as pipeline

        model = pipeline.build_model(
            fit.patches.data.shape[1:],
            fit.geometry,
            fit.config,
            pipeline.patch_noise(fit.patches.data, fit.config),
        )
        pipeline.train_model(
            model, fit.patches, fit.geometry.epochs, fit.config, False, labels=labels
        )
        got = model.encode(fit.patches).classes
        unknown = labels < 0
        both = unknown & clear
        out[f"classes-{n}"] = {
            "accuracy": round(float((got[unknown] == cells[unknown]).mean()), 3),
            "ari": round(float(adjusted_rand_score(cells[unknown], got[unknown])), 3),
            "clear_accuracy": round(float((got[both] == cells[both]).mean()), 3),
        }
    if peers:
        out.update(run_peers(base.patches.data, cells, clear, k, chosen, peers, peer_names))
    print(json.dumps(out), flush=True)
    return out


def _worst(runs: list[dict], method: str, field: str = "ari") -> str:
    """The lowest score of a method over seeds: all cells / clear cells."""
    got = [r[method] for r in runs if method in r]
    if not got:
        return "-"
    low = min(g[field] for g in got)
    inner = [g["clear"][field] for g in got if "clear" in g]
    return f"{low:.2f} / {min(inner):.2f}" if inner else f"{low:.2f}"


def _worst_labelled(runs: list[dict], method: str) -> str:
    """The lowest accuracy of a labelled method over seeds: all / clear unlabelled cells."""
    got = [r[method] for r in runs if method in r]
    if not got:
        return "-"
    low = min(g["accuracy"] for g in got)
    return f"{low:.2f} / {min(g['clear_accuracy'] for g in got):.2f}"


def table(results: list[dict]) -> str:
    """Markdown rows: the worst seed of each case and noise (ARI all / clear cells; with
    labels, accuracy on the unlabelled cells all / clear)."""
    rows = []
    for case, noise in sorted({(r["case"], r["noise"]) for r in results}, key=str):
        runs = [r for r in results if r["case"] == case and r["noise"] == noise]
        cells = [_worst(runs, m) for m in ("classes", "gmm", "jiVAE")]
        cells += [_worst_labelled(runs, m) for m in ("classes-5", "ssiVAE-5", "classes-20")]
        rows.append(f"| {case}@{noise} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [*CASES, "series"]
    p.add_argument("--cases", nargs="+", default=names, choices=names)
    p.add_argument("--noise", nargs="+", type=float, default=[0.08, 0.2])
    p.add_argument("--labels", nargs="*", type=int, default=[])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--latent-dim", type=int, default=2, help="conventional latents")
    p.add_argument("--auto", action="store_true", help="series: also classes='auto'")
    p.add_argument("--peer-names", nargs="+", default=list(PEERS), choices=list(PEERS))
    p.add_argument(
        "--peers", type=int, nargs="?", const=100, default=0, help="pyroVED's epochs (100)"
    )
    p.add_argument("--json", type=Path, default=HERE / "results" / "bench_classes.json")
    p.add_argument("--table", nargs="+", type=Path, help="print the table of these results")
    args = p.parse_args()
    if args.table:
        print(table([r for path in args.table for r in json.loads(path.read_text())]))
        return
    results = [
        run_series(noise, seed, args.auto)
        if name == "series"
        else run_case(name, noise, args.labels, seed, args.peers, args.latent_dim, args.peer_names)
        for name in args.cases
        for noise in args.noise
        for seed in args.seeds
    ]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
