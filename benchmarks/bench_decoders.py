"""Decoders side by side on the paper's synthetic studies: quality first, then speed.

For each decoder (the paper's coordinate MLP, the canvas decoder) and seed, the paper's two
studies are trained exactly as ``shiftvae reproduce`` trains them (``shiftvae.studies``),
VAE and shift-VAE alike:

* 1D sines (Fig. 2: 3000 segments of 100 samples, 50 epochs): final loss, R^2 and slope of
  the encoded shift against the true one, the spread of each conventional latent (below 0.1
  it has collapsed: the paper expects one to collapse and one to follow sigma), and the
  largest |Pearson r| of a conventional latent with sigma;
* 2D lattice patches (Fig. 4: 3000 patches of 16 x 16 at random offsets, 60 epochs): final
  loss and the spread of both conventional latents (the paper expects both to collapse);
* training seconds of each run (the VAE's too: it uses the same decoder without a shift).

    .venv/bin/python benchmarks/bench_decoders.py [--seeds 0 1] [--decoders canvas coordinate]

Writes ``benchmarks/results/bench_decoders.json``; runs already there are kept unless
``--rerun``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch

from shiftvae.studies import lattice_study, sine_study

HERE = Path(__file__).resolve().parent
DECODERS = ("coordinate", "canvas")


def sines(decoder: str, seed: int) -> dict:
    study = sine_study(n=3000, length=100, epochs=50, decoder=decoder, seed=seed)
    run, vae = study.runs["shift_vae"], study.runs["vae"]
    m = run.metrics
    return {
        "loss": round(m["final_loss"], 3),
        "vae_loss": round(vae.metrics["final_loss"], 3),
        "shift_r2": round(m["shift"]["r2"], 4),
        "shift_slope": round(m["shift"]["slope"], 3),
        "latent_spread": [round(s, 3) for s in m["collapse"]["std"]],
        "collapsed": m["collapse"]["collapsed"],
        "best_abs_r_sigma": round(max(abs(r) for r in m["r_sigma"]), 4),
        "seconds": round(run.seconds, 1),
        "vae_seconds": round(vae.seconds, 1),
    }


def lattice(decoder: str, seed: int) -> dict:
    study = lattice_study(n=3000, window=16, decoder=decoder, seed=seed)
    run, vae = study.runs["shift_vae"], study.runs["vae"]
    m = run.metrics
    return {
        "loss": round(m["final_loss"], 3),
        "vae_loss": round(vae.metrics["final_loss"], 3),
        "latent_spread": [round(s, 3) for s in m["collapse"]["std"]],
        "collapsed": m["collapse"]["collapsed"],
        "vae_collapsed": vae.metrics["collapse"]["collapsed"],
        "seconds": round(run.seconds, 1),
        "vae_seconds": round(vae.seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decoders", nargs="*", default=list(DECODERS), choices=DECODERS)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    p.add_argument("--json", type=Path, default=HERE / "results" / "bench_decoders.json")
    p.add_argument("--rerun", action="store_true")
    args = p.parse_args(argv)
    out = json.loads(args.json.read_text()) if args.json.is_file() else {}
    out.update(
        {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "command": "python benchmarks/bench_decoders.py",
        }
    )
    runs = out.setdefault("runs", {})
    for decoder in args.decoders:
        for seed in args.seeds:
            for study, fn in (("sines", sines), ("lattice", lattice)):
                key = f"{study}/{decoder}/seed{seed}"
                if key in runs and not args.rerun:
                    continue
                runs[key] = fn(decoder, seed)
                print(key, json.dumps(runs[key]), flush=True)
                args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
