"""Soak test: many ``fit_image`` runs in one process, as a notebook user makes them.

    python benchmarks/soak_fit.py                     # 20 fits, resident memory after each
    python benchmarks/soak_fit.py --runs 20 --save    # and write every result folder too

Each run fits a fresh model on the same small generated lattice image (``--size`` px,
window 16 px, step 4 px, ``--epochs`` epochs, phases by BIC, a new seed each time) and
drops it.  After every run (and ``gc.collect()``) the resident memory (VmRSS of
/proc/self/status) is read twice: as it is, and after glibc's ``malloc_trim(0)`` has given
the freed heap back to the system.  The first figure includes memory that is free but
kept by the allocator for reuse (after the second run about 100 MiB here, flat from then
on); the second is what is still in use, where a leak would show.  Growth is measured
from the first run (libraries loaded, caches filled) to the last; the exit status is 1 if
the in-use growth exceeds ``--limit`` %.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import shiftvae as sv


def resident_mib() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB: current and peak resident memory."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return fields["VmRSS"], fields["VmHWM"]


def release_free_heap() -> bool:
    """Ask glibc to return freed heap pages to the system (False where that is not glibc)."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        return False
    return True


def growth(values: list[float], start: int = 0) -> float:
    return 100 * (values[-1] - values[start]) / values[start]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=64, help="image side in px")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save", action="store_true", help="also sv.save_results every run")
    parser.add_argument("--limit", type=float, default=10.0, help="allowed growth in %%")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        sys.exit("needs /proc/self/status (Linux)")
    torch.set_num_threads(args.threads)

    image = sv.Image(sv.synthetic.lattice_image(args.size, period=8.0, seed=1), 0.05, "nm", "")
    gc.collect()
    before, _ = resident_mib()
    raw, in_use = [], []
    trimmed = False
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        for run in range(args.runs):
            config = sv.FitConfig(window=16, step=4, epochs=args.epochs, seed=run, device="cpu")
            result = sv.fit_image(image, config, progress=False)
            if args.save:
                sv.save_results(result, Path(tmp) / f"run{run}")
            del result
            gc.collect()
            raw.append(resident_mib()[0])
            trimmed = release_free_heap()
            in_use.append(resident_mib()[0])
            print(
                f"run {run + 1:3d}: resident {raw[-1]:7.1f} MiB, in use {in_use[-1]:7.1f} MiB",
                flush=True,
            )
    _, peak = resident_mib()
    half = len(raw) // 2 - 1
    figures = {
        "runs": args.runs,
        "image_px": args.size,
        "epochs": args.epochs,
        "save_results": args.save,
        "malloc_trim": trimmed,
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak, 1),
        "resident_mib": [round(v, 1) for v in raw],
        "in_use_mib": [round(v, 1) for v in in_use],
        "resident_growth_percent": round(growth(raw), 2),
        "in_use_growth_percent": round(growth(in_use), 2),
        "resident_growth_second_half_percent": round(growth(raw, half), 2),
        "wall_s": round(time.perf_counter() - tic, 1),
    }
    print(
        f"{args.runs} fits: resident memory {before:.0f} MiB before, {raw[0]:.0f} after run 1, "
        f"{raw[-1]:.0f} after run {args.runs} ({figures['resident_growth_percent']:+.1f}%; "
        f"{figures['resident_growth_second_half_percent']:+.1f}% from run {half + 1}); in "
        f"use {in_use[0]:.0f} -> {in_use[-1]:.0f} MiB ({figures['in_use_growth_percent']:+.1f}%, "
        f"limit {args.limit:g}%); peak {peak:.0f} MiB; {figures['wall_s']:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures["in_use_growth_percent"] <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
