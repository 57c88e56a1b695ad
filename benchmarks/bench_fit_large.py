"""Whole default fits of large generated images: wall time, peak memory, achieved FLOP/s.

For each image side (default 1024, 2048 and 4096 px) a crystal with two sublattices whose
B/A intensity ratio varies smoothly (``sv.synthetic.intensity_ratio_crystal``, cell 28 px) is
generated, written as ``.npy``, and fitted twice, each in its own process:

* ``sv.fit_image`` with default options: the stages' times (patches, training, encoding and
  maps), the number of patches, epochs and optimisation steps, training samples per second,
  and the peak memory of the process (resident set on the CPU; allocated by torch on CUDA);
* the whole ``shiftvae fit IMAGE.npy --out DIR`` command (reading, report and all).

Achieved FLOP/s: the matrix-product FLOPs of one training step, counted by torch's
``FlopCounterMode`` on the fitted model at the fit's batch size, times the steps, over the
training time; against the measured peak of a large ``torch.mm`` (fp32, and bf16 on CUDA)
in the same process.  Element-wise work, FFTs and Python are not counted: the ratio says how
far the step is from being bound by arithmetic.

    .venv/bin/python benchmarks/bench_fit_large.py                       # CPU, all sizes
    .venv/bin/python benchmarks/bench_fit_large.py --sizes 1024 --device cuda

Writes ``benchmarks/results/bench_fit_large_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
CELL = 28.0


def matmul_peak(device: str, dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best FLOP/s of an n x n by n x n ``torch.mm``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = math.inf
    for _ in range(reps + 1):
        if device != "cpu":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        torch.mm(a, b)
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - tic)
    return 2 * n**3 / best


def step_flops(model, patches: np.ndarray, batch: int) -> float:
    """Matrix-product FLOPs of one training step (forward and backward) at ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    module = model.module_
    x = torch.as_tensor(patches[:batch], device=model.device)
    with torch.no_grad():  # prepared once per fit, as training does: not part of a step
        prepared = module.prepare(x)
    with FlopCounterMode(display=False) as counter:
        module.loss(x, 1.0, prepared=prepared).loss.backward()
    module.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def peak_memory(device: str) -> float:
    """Peak memory of this process in MiB (resident set; torch's allocations on CUDA)."""
    if device != "cpu":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(path: Path, device: str) -> dict:
    """The fit of one image in this process (called in a subprocess per size)."""
    import shiftvae as sv

    image = sv.read_image(path)
    tic = time.perf_counter()
    result = sv.fit_image(image, sv.FitConfig(device=device), progress=False)
    wall = time.perf_counter() - tic
    geo, n = result.geometry, len(result.patches)
    batch = result.config.batch_size
    steps = geo["epochs"] * math.ceil(n / batch)
    flops = step_flops(result.model, result.patches.data, batch) * steps
    train = result.timings["train"]
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device != "cpu":
        peaks["bf16"] = matmul_peak(device, torch.bfloat16)
    return {
        "fit_seconds": round(wall, 2),
        "stages_seconds": {k: round(v, 2) for k, v in result.timings.items()},
        "patches": n,
        "patch_shape": list(result.patches.data.shape[1:]),
        "model": [geo["position"], geo["decoder"], geo["encoder"], geo["centers"]],
        "epochs": geo["epochs"],
        "steps": steps,
        "batch_size": batch,
        "seconds_per_step": round(train / steps, 5),
        "train_samples_per_second": round(geo["epochs"] * n / train),
        "achieved_gflops": round(flops / train / 1e9, 2),
        "peak_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
        "share_of_fp32_peak": round(flops / train / peaks["fp32"], 5),
        "peak_memory_mib": round(peak_memory(device)),
        "physicality": round(float(result.metrics["physicality"]), 4),
    }


def whole_command(path: Path, device: str) -> float:
    """Seconds of ``shiftvae fit PATH --out DIR`` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "shiftvae", "fit", str(path), "--out", f"{tmp}/out"]
        cmd += ["--device", device]
        tic = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return round(time.perf_counter() - tic, 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1024, 2048, 4096])
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path)
    p.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: fit one image
    args = p.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one, args.device)))
        return 0
    import shiftvae as sv

    out_path = args.json or HERE / "results" / f"bench_fit_large_{args.device}.json"
    out = json.loads(out_path.read_text()) if out_path.is_file() else {}
    out.update(
        {
            "device": args.device,
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "image": f"intensity_ratio_crystal(size, cell={CELL}, seed=0)",
            "command": "python benchmarks/bench_fit_large.py --device " + args.device,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            img, _ = sv.synthetic.intensity_ratio_crystal(size=size, cell=CELL, seed=0)
            path = Path(tmp) / f"crystal_{size}.npy"
            np.save(path, img)
            cmd = [sys.executable, __file__, "--one", str(path), "--device", args.device]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["command_seconds"] = whole_command(path, args.device)
            out.setdefault("sizes", {})[str(size)] = row
            print(size, json.dumps(row), flush=True)
            out_path.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
