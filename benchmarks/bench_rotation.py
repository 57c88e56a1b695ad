"""Orientation and strain maps on generated images with known truth, beside peers.

Cases (``shiftvae.synthetic.grains``, 256 x 256 px, columns 8 px apart, Poisson noise):

* ``grains``: 6 square-lattice grains at random orientations;
* ``strain``: one lattice whose parameter varies smoothly by about +-5%;
* ``both``: 6 grains and a +-3% strain field;
* ``order``: 6 grains whose column brightness follows a smooth +-25% field, an order
  parameter independent of the orientation.

Methods, each on the same patches:

* ``shiftvae``: ``sv.fit_image(image, FitConfig(rotation="auto", scale="isotropic"))``, the
  default options plus rotation and scale;
* ``translation``: ``sv.fit_image(image)``, the default translation-only fit (its
  conventional maps are the smoothness reference);
* ``anchor``: the power-spectrum anchor alone (no training): the simple baseline;
* ``pyroved``: ``iVAE(invariances=['r', 't'])`` at its defaults (``pyroved-scale``:
  ``['r', 't', 's']``, on the cases with strain), and ``atomai``: ``rVAE`` at its defaults,
  for ``--peer-epochs`` epochs (default 70, as many as our automatic choice on these
  images; run in their own environments, if present).

Scores: the circular correlation (Jammalamadaka) of the orientation with the truth modulo
the 4-fold symmetry; the RMS error of the relative lattice parameter after one constant
factor (the motif's own size is arbitrary), in percent, over all patches and, with grains,
over the patches whose window lies in one grain; the physicality of the conventional
maps; training time.  Where the image has a brightness field (``order``), the latent that
follows it best (|Spearman| at the patch centres) and the smoothness of that latent's map:
the smoothness of the maps compared at equal information, since a latent that encodes the
piecewise constant orientation scores as smooth without showing any physics.  Both are also
read inside each grain (patches whose whole window lies in one grain), so that the levels
set by the orientation count for neither: the share of the latent's within-grain variance
that the field explains (``order_r2_within_grains``), and the smoothness of the map in each
grain (``masked_smoothness``, 1 - Geary's C; a spectral score needs the whole map),
averaged over the grains by area.

    python benchmarks/bench_rotation.py                      # shiftvae rows (~3 min on 2 cores)
    .venv-bench/bin/python benchmarks/bench_rotation.py --peers --cases grains  # + ~16 min
    .venv-bench/bin/python benchmarks/bench_rotation.py --peers pyroved-scale --cases strain both

Writes ``benchmarks/results/bench_rotation.json``: the rows of a run replace the same rows
of the file, and the other rows (the peers', from a slower run) are kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

import shiftvae as sv
from shiftvae.analysis.maps import latent_maps
from shiftvae.analysis.smoothness import masked_smoothness
from shiftvae.model.pose import PoseAnchor
from shiftvae.pipeline.fit import FitConfig
from shiftvae.synthetic.grains import polycrystal, strained_film
from shiftvae.types import Encoding

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = {
    "grains": lambda: polycrystal(size=256, cell=8.0, grains=6, seed=0),
    "strain": lambda: strained_film(size=256, cell=8.0, strain=0.05, seed=1),
    "both": lambda: polycrystal(size=256, cell=8.0, grains=6, strain=0.03, seed=2),
    "order": lambda: polycrystal(size=256, cell=8.0, grains=6, order=0.25, seed=7),
}
PEERS = {
    "pyroved": ROOT / ".venv-bench/bin/python",
    "pyroved-scale": ROOT / ".venv-bench/bin/python",  # only where the strain is known
    "atomai": ROOT / ".venv-atomai/bin/python",
}


def circular_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Jammalamadaka's circular correlation of two angle samples (radians)."""
    sa = np.sin(a - np.angle(np.exp(1j * a).mean()))
    sb = np.sin(b - np.angle(np.exp(1j * b).mean()))
    return float((sa * sb).sum() / np.sqrt((sa * sa).sum() * (sb * sb).sum()))


def circular_linear_correlation(x: np.ndarray, angle: np.ndarray) -> float:
    """Mardia's circular-linear correlation of a linear variable with angles, in [0, 1]."""
    cos, sin = np.cos(angle), np.sin(angle)
    rc, rs = np.corrcoef(x, cos)[0, 1], np.corrcoef(x, sin)[0, 1]
    rcs = np.corrcoef(cos, sin)[0, 1]
    return float(np.sqrt(max(0.0, (rc**2 + rs**2 - 2 * rc * rs * rcs) / (1 - rcs**2))))


def scores(angle_deg, scale, z, patches, truth) -> dict:
    """Orientation correlation (modulo 4-fold), strain error, physicality of the z maps."""
    out: dict = {}
    true_angle = np.radians(truth.orientation(patches.centers)) * truth.symmetry
    if angle_deg is not None:
        est = np.radians(np.asarray(angle_deg)) * truth.symmetry
        if np.ptp(true_angle) > 0:
            corr = abs(circular_correlation(est, true_angle))
            out["orientation_circular_correlation"] = round(corr, 4)
        else:  # one grain: how far the map strays from one angle (circular std, degrees)
            spread = np.sqrt(-2 * np.log(np.abs(np.exp(1j * est).mean())))
            out["orientation_spread_deg"] = round(float(np.degrees(spread)) / truth.symmetry, 3)
    if scale is not None:
        true_scale = truth.scale(patches.centers)
        if true_scale.std() > 0:
            s = np.asarray(scale, float)
            s = s * np.median(true_scale / s)
            out["scale_rms_error_percent"] = round(
                100 * float(np.sqrt(np.mean((s - true_scale) ** 2))), 3
            )
            out["scale_median_error_percent"] = round(
                100 * float(np.median(np.abs(s - true_scale))), 3
            )
            out["scale_truth_std_percent"] = round(100 * float(true_scale.std()), 3)
            inside = interior_grain(patches, truth) >= 0
            if 0 < inside.sum() < len(inside):  # grains: away from the boundaries as well
                err = s[inside] - true_scale[inside]
                out["scale_rms_error_percent_in_grains"] = round(
                    100 * float(np.sqrt(np.mean(err**2))), 3
                )
    if z is not None and np.ptp(true_angle) > 0:
        # how much the conventional latents spend on orientation: the largest circular-linear
        # correlation of a latent with the true angle (modulo the symmetry)
        assoc = [circular_linear_correlation(v, true_angle) for v in z.T]
        out["z_orientation_association"] = round(float(np.nanmax(assoc)), 3)
    if z is not None:
        maps = latent_maps(_as_encoding(z), patches, phases=None)
        out["physicality"] = round(float(sv.physicality(maps)), 4)
        true_order = truth.order(patches.centers)
        if true_order.std() > 0:  # the latent that carries the known field, and its map
            rho = [abs(spearmanr(v, true_order)[0]) for v in z.T]
            best = int(np.nanargmax(rho))
            grain = interior_grain(patches, truth)  # -1 on the boundaries
            inside = grain >= 0
            out["order_spearman"] = round(float(rho[best]), 3)
            out["order_r2_within_grains"] = round(within_r2(z[:, best], true_order, grain), 3)
            out["order_map_smoothness"] = round(float(sv.smoothness(maps.z[best])), 4)
            cells = latent_maps(_as_encoding(grain[:, None] + 1.0), patches, None).z[0]
            smooth, weight = [], []
            for g in np.unique(grain[inside]):
                mask = np.abs(cells - (g + 1)) < 0.5
                if mask.sum() >= 16:
                    smooth.append(masked_smoothness(maps.z[best], mask))
                    weight.append(mask.sum())
            out["order_map_smoothness_within_grains"] = round(
                float(np.average(smooth, weights=weight)), 4
            )
    return out


def _as_encoding(z: np.ndarray) -> Encoding:
    """Per-patch values as an encoding without shifts, to be placed on the map grid."""
    n = len(z)
    return Encoding(z, np.ones_like(z), np.zeros((n, 2)), np.ones((n, 2)))


def interior_grain(patches, truth) -> np.ndarray:
    """(N,) the grain of each patch whose whole window lies in one grain (a 5 x 5 grid of
    points), -1 for a patch across a boundary."""
    half = patches.data.shape[1] / 2
    offsets = np.stack(np.meshgrid(*[np.linspace(-half, half, 5)] * 2, indexing="ij"), -1)
    points = patches.centers[:, None] + offsets.reshape(1, -1, 2)
    grains = truth.grain(points.reshape(-1, 2)).reshape(len(patches.centers), -1)
    return np.where((grains == grains[:, :1]).all(1), grains[:, 0], -1)


def within_r2(values: np.ndarray, truth: np.ndarray, grain: np.ndarray) -> float:
    """Share of a latent's variance inside grains that the known field explains, once each
    grain's own mean is taken out of both (one slope for all grains): the order parameter
    read at equal information, whatever else (the orientation) sets the grains' levels."""
    inside = grain >= 0
    v, t, g = values[inside], truth[inside], grain[inside]
    for k in np.unique(g):
        v[g == k] -= v[g == k].mean()
        t[g == k] -= t[g == k].mean()
    return float(np.dot(v, t) ** 2 / (np.dot(v, v) * np.dot(t, t)))


def run_case(name: str, peers: list[str], peer_epochs: int) -> dict:
    image, truth = CASES[name]()
    rows: dict = {}
    tic = time.perf_counter()
    posed = sv.fit_image(image, FitConfig(rotation="auto", scale="isotropic"), progress=False)
    enc, patches = posed.encoding, posed.patches
    rows["shiftvae"] = {
        **scores(enc.orientation_mean, enc.scale_mean[:, 0], enc.z_mean, patches, truth),
        "seconds": round(time.perf_counter() - tic, 1),
        "symmetry": posed.geometry["rotation"],
        "window": posed.geometry["window"],
        "epochs": posed.geometry["epochs"],
    }
    anchor = PoseAnchor(patches.data.shape[1:], truth.symmetry, posed.geometry["ring_period"])
    phi, log_scale = anchor(torch.as_tensor(patches.data))
    rows["anchor"] = scores(
        np.degrees(phi.numpy() / truth.symmetry), np.exp(log_scale.numpy()), None, patches, truth
    )
    tic = time.perf_counter()
    plain = sv.fit_image(image, FitConfig(), progress=False)
    rows["translation"] = {
        **scores(None, None, plain.encoding.z_mean, plain.patches, truth),
        "physicality": round(float(plain.metrics["physicality"]), 4),
        "seconds": round(time.perf_counter() - tic, 1),
        "geometry": {k: plain.geometry[k] for k in ("position", "decoder", "window")},
    }
    if peers:
        strained = truth.scale(patches.centers).std() > 0
        for peer in peers:
            python = PEERS[peer]
            if peer == "pyroved-scale" and not strained:
                continue
            if not python.exists():
                rows[peer] = {"skipped": f"{python.relative_to(ROOT)} not found"}
                continue
            with tempfile.TemporaryDirectory() as tmp:
                np.save(f"{tmp}/x.npy", patches.data)
                cmd = [str(python), str(HERE / "rotation_peers.py"), peer, f"{tmp}/x.npy",
                       str(peer_epochs), f"{tmp}/out.json"]  # fmt: skip
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    rows[peer] = {"failed": proc.stderr.strip().splitlines()[-1:]}
                    continue
                res = json.loads(Path(f"{tmp}/out.json").read_text())
            angle = np.degrees(np.asarray(res["angle"]))
            scale = np.asarray(res["scale"]) if "scale" in res else None
            rows[peer] = {
                **scores(angle, scale, np.asarray(res["z"]), patches, truth),
                "seconds": round(res["seconds"], 1),
                "epochs": peer_epochs,
            }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "--peers", nargs="*", choices=list(PEERS), help="also these peers (none named: all)"
    )
    parser.add_argument("--peer-epochs", type=int, default=70, help="our fit's auto epochs")
    parser.add_argument("--out", default=str(HERE / "results" / "bench_rotation.json"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out)  # rows of this run replace the same rows; the others are kept
    results = json.loads(out.read_text()) if out.exists() else {"cases": {}}
    results["machine"] = platform.processor() or platform.machine()
    for name in args.cases:
        peers = list(PEERS) if args.peers == [] else args.peers or []
        rows = run_case(name, peers, args.peer_epochs)
        results["cases"][name] = {**results["cases"].get(name, {}), **rows}
        print(name, json.dumps(rows, indent=1), flush=True)
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
