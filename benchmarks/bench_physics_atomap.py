"""Displacement (polarisation) side by side with Atomap on the same images, known truth.

The displacement-domain crystal of bench_physics.py (512 px, B columns moved by +-25 pm
along a1 in two domains, 0.3 px scan jitter and 2 px drift, the 28 px cell taken as
SrTiO3's 3.905 A), at three noise levels and two B/A brightness ratios.  shiftvae measures
every B from the centre of its four A (``find_columns`` + ``cage_displacements``), with its
error bars; Atomap runs its two-sublattice workflow in its own environment
(benchmarks/atomap_columns.py: 2D Gaussian per column, A subtracted before B) and each B is
measured from the centre of its four nearest A.  Both are scored the same way: each B
found within 2 px of a true B, its displacement along a1 against the truth, in pm, over
all the B each measured and over the B both measured (Atomap leaves out the edge).

With ``--dose``, the images are recorded through a probe instead (``Microscope``: an
aberration-free Airy probe of 21.4 mrad at 200 kV, source std 25 pm, 13.95 pm pixels) with
Poisson noise from the dose in electrons per square angstrom (5% of the electrons on an A
column scattered onto the detector): precision against dose.

    bash benchmarks/setup_atomap_env.sh                  # once: .venv-atomap
    .venv/bin/python benchmarks/bench_physics_atomap.py  # ~2 min on 2 cores
    .venv/bin/python benchmarks/bench_physics_atomap.py --shift 5 --noise 0.08 \
        --out benchmarks/results/bench_physics_atomap_5pm.json
    .venv/bin/python benchmarks/bench_physics_atomap.py --dose 1e4 3e4 1e5 1e6 \
        --out benchmarks/results/bench_physics_atomap_dose.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from shiftvae.analysis.column_errors import column_errors
from shiftvae.analysis.columns import cage_displacements, find_columns
from shiftvae.lattice.estimate import estimate_lattice
from shiftvae.synthetic.crystal_scene import Microscope
from shiftvae.synthetic.crystals import displacement_domain_crystal

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".venv-atomap" / "bin" / "python"
OUT = Path(__file__).parent / "results" / "bench_physics_atomap.json"
PM_PER_PX = 390.5 / 28.0
CELL = 28.0


def run_peer(script: str, **arrays) -> dict:
    """Run ``benchmarks/<script>`` in .venv-atomap on ``arrays`` (saved as .npz); its
    output arrays."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **arrays)
        subprocess.run([str(PEER), str(ROOT / "benchmarks" / script), src, dst],
                       check=True, timeout=1800, capture_output=True)  # fmt: skip
        with np.load(dst) as out:
            return {k: out[k] for k in out.files}


def score(found: np.ndarray, moved: np.ndarray, truth) -> dict[int, float]:
    """{true B index: error (pm) of its displacement along a1} for the B found within 2 px
    of a true B."""
    _, index, error = truth.displacement_errors(found, moved)
    return dict(zip(index.tolist(), (error * PM_PER_PX).tolist()))


def summary(errors: dict[int, float], common: set[int]) -> dict:
    """RMS and bias (pm) over all the B a method measured, and over those both did."""
    every = np.array(list(errors.values()))
    both = np.array([errors[i] for i in sorted(common)])
    return {
        "rms_pm": round(float(np.sqrt(np.mean(every**2))), 2),
        "bias_pm": round(float(np.mean(every)), 2),
        "columns": len(every),
        "rms_pm_common": round(float(np.sqrt(np.mean(both**2))), 2),
    }


PROBE = {"convergence_mrad": 21.4, "energy_kv": 200.0, "source_pm": 25.0, "pixel_pm": PM_PER_PX}


def case(
    noise: float, ratio: float, seed: int = 0, dose: float | None = None, shift: float = 25.0
) -> dict:
    scope = Microscope(noise_level=noise, scan_jitter=0.3)
    if dose is not None:
        scope = Microscope(scan_jitter=0.3, dose=dose, **PROBE)
    data, truth = displacement_domain_crystal(
        size=512, displacement=shift / PM_PER_PX, b_ratio=ratio, microscope=scope, seed=seed
    )
    row: dict = {"noise": noise, "b_ratio": ratio}
    if dose is not None:
        row = {
            "dose_e_per_A2": dose,
            "peak_counts": round(scope.peak_counts(), 1),
            "b_ratio": ratio,
        }
    tic = time.perf_counter()
    columns = column_errors(find_columns(data, estimate_lattice(data)), data)
    ours = score(
        columns.positions[:, :, 1].reshape(-1, 2),
        cage_displacements(columns, 1).reshape(-1, 2),
        truth,
    )
    seconds = round(time.perf_counter() - tic, 1)
    peer = run_peer("atomap_columns.py", image=data, spacing=CELL)
    theirs = score(peer["b_rowcol"], peer["moved_rowcol"], truth)
    common = set(ours) & set(theirs)
    row["shiftvae"] = {**summary(ours, common), "seconds": seconds}
    row["atomap"] = {**summary(theirs, common), "seconds": round(float(peer["seconds"]), 1)}
    return row


def side_by_side(label: str, row: dict, columns: str) -> str:
    """One line: each tool's RMS error, bias, columns and time, and on the common ones."""
    s, a = row["shiftvae"], row["atomap"]
    return (
        f"{label}: shiftvae {s['rms_pm']} pm (bias {s['bias_pm']}, {s['columns']} {columns}, "
        f"{s['seconds']} s); Atomap {a['rms_pm']} pm (bias {a['bias_pm']}, {a['columns']} "
        f"{columns}, {a['seconds']} s); on the {columns} both measured "
        f"{s['rms_pm_common']} and {a['rms_pm_common']} pm"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.04, 0.08, 0.16])
    ap.add_argument("--ratio", type=float, nargs="+", default=[0.3, 0.8])
    ap.add_argument("--dose", type=float, nargs="+", help="e/A^2 through the Airy probe")
    ap.add_argument("--shift", type=float, default=25.0, help="the domains' B shift, pm")
    args = ap.parse_args()
    if not PEER.is_file():
        raise SystemExit("no .venv-atomap: run  bash benchmarks/setup_atomap_env.sh  first")
    rows = []
    settings = [(n, None) for n in args.noise] if not args.dose else [(0, d) for d in args.dose]
    for noise, dose in settings:
        for ratio in args.ratio:
            r = case(noise, ratio, dose=dose, shift=args.shift)
            r["shift_pm"] = args.shift
            rows.append(r)
            where = f"noise {noise:.2f}" if dose is None else f"dose {dose:g} e/A^2"
            print(side_by_side(f"{where} B/A {ratio:.1f}", r, "B"), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
