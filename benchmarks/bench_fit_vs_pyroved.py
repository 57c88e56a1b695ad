"""A whole default fit against pyroVED at its recommended settings, on the same patches.

What a user gets from each tool out of the box, on a real image:

* shiftvae: ``sv.fit_image(image)`` with default options (lattice found, torus position,
  lattice Fourier coder, patches on the columns, automatic epochs);
* pyroVED: ``pv.models.iVAE(patch_shape, latent_dim=2, invariances=['t'])`` with every other
  argument at its default (encoder and decoder 128-128 tanh, Bernoulli, ``dx_prior=0.1``),
  ``pv.trainers.SVItrainer(model)`` (Adam, lr 1e-3) and ``pv.utils.init_dataloader`` (batch
  100, shuffled), trained on **the patches shiftvae cut** for **the same number of epochs**.

Reported beside the times (training only, and shiftvae's whole fit):

* reconstruction: mean squared error per pixel between each patch and its decoded latent
  means (probabilities in [0, 1]; shiftvae's ``reconstruct``; for pyroVED its decoder on the
  grid moved by the encoded translation, as its model does in training);
* physicality of the conventional maps (``sv.physicality``: the central Fourier power share,
  higher is smoother), both laid out on the same patch grid;
* smoothness of each conventional map.

Run in the bench environment (``bash benchmarks/setup_bench_env.sh``)::

    .venv-bench/bin/python benchmarks/bench_fit_vs_pyroved.py               # MoS2
    .venv-bench/bin/python benchmarks/bench_fit_vs_pyroved.py --image perovskite

Writes ``benchmarks/results/bench_fit_vs_pyroved_<image>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

import shiftvae as sv
from shiftvae.analysis.maps import latent_maps
from shiftvae.types import Encoding

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
IMAGES = {"mos2": "mos2_se_implanted_adf.dm3", "perovskite": "perovskite_adf_atomap.hdf5"}


def quality(patches: sv.Patches, z: np.ndarray, recon: np.ndarray) -> dict:
    """Reconstruction MSE per pixel, physicality and smoothness of the conventional maps."""
    n, d = len(z), patches.data.ndim - 1
    enc = Encoding(z_mean=z, z_std=np.ones_like(z), shift_mean=np.zeros((n, d)),
                   shift_std=np.ones((n, d)))  # fmt: skip
    maps = latent_maps(enc, patches, phases=None)
    return {
        "reconstruction_mse": float(np.mean((recon - patches.data) ** 2)),
        "physicality": round(float(sv.physicality(maps)), 4),
        "smoothness_z": [round(float(sv.smoothness(m)), 4) for m in maps.z],
    }


def run_shiftvae(image: sv.Image, device: str) -> tuple[dict, sv.FitResult]:
    tic = time.perf_counter()
    result = sv.fit_image(image, sv.FitConfig(device=device), progress=False)
    total = time.perf_counter() - tic
    recon = result.model.reconstruct(result.patches)
    geo = result.geometry
    return {
        "train_seconds": round(result.timings["train"], 2),
        "fit_seconds": round(total, 2),
        "epochs": geo["epochs"],
        "model": [geo["position"], geo["decoder"], geo["encoder"], geo["centers"]],
        "window/binning": [geo["window"], geo["binning"]],
        **quality(result.patches, result.encoding.z_mean, recon),
    }, result


def run_pyroved(patches: sv.Patches, epochs: int, device: str) -> dict:
    import pyroved as pv
    from pyroved.utils import transform_coordinates

    X = torch.as_tensor(patches.data, dtype=torch.float32)
    shape = tuple(X.shape[1:])
    model = pv.models.iVAE(shape, latent_dim=2, invariances=["t"], device=device)
    trainer = pv.trainers.SVItrainer(model, device=device)
    loader = pv.utils.init_dataloader(X)
    tic = time.perf_counter()
    for _ in range(epochs):
        trainer.step(loader)
    seconds = time.perf_counter() - tic
    with torch.no_grad():
        z_loc, _ = model.encode(X)
        phi, dx, sc, z = model.split_latent(z_loc.to(model.device))
        recon = []
        for start in range(0, len(X), 500):
            sl = slice(start, start + 500)
            grid = model.grid.expand(len(z[sl]), *model.grid.shape)
            moved = transform_coordinates(grid, phi, (dx[sl] * model.t_prior).unsqueeze(1), sc)
            recon.append(model.decoder(moved, z[sl]).reshape(-1, *shape).cpu().numpy())
    return {
        "train_seconds": round(seconds, 2),
        "epochs": epochs,
        **quality(patches, z.cpu().numpy().astype(np.float64), np.concatenate(recon)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default="mos2", choices=IMAGES)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    out_path = args.json or HERE / "results" / f"bench_fit_vs_pyroved_{args.image}.json"
    image = sv.read_image(SHARED / IMAGES[args.image])
    shift, result = run_shiftvae(image, args.device)
    print("shiftvae", json.dumps(shift), flush=True)
    pyro = run_pyroved(result.patches, shift["epochs"], args.device)
    print("pyroVED", json.dumps(pyro), flush=True)
    out = {
        "image": IMAGES[args.image],
        "patches": list(result.patches.data.shape),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "shiftvae": shift,
        "pyroved": pyro,
        "train_speedup": round(pyro["train_seconds"] / shift["train_seconds"], 1),
        "command": f"python benchmarks/bench_fit_vs_pyroved.py --image {args.image}",
    }
    out_path.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("patches", "train_speedup")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
