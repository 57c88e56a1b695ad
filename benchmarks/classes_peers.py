"""pyroVED's jiVAE and ssiVAE on the patches of ``bench_classes.py`` (run in .venv-bench).

``bench_classes.py --peers`` writes each case's patches (those of the default fit), the true
class of each patch and the labelled cells to an ``.npz`` and runs this script on it in the
pyroVED environment (``bash benchmarks/setup_bench_env.sh``); it prints one JSON line.

Settings are pyroVED's own recommendations, from its docstrings:

* ``jiVAE(data_dim, latent_dim=2, discrete_dim=K, invariances=["t"])`` trained by
  ``SVItrainer(model, lr=1e-3, enumerate_parallel=True)``, the continuous KL scaled by 40
  for 10 epochs then down to 3 over 40 epochs, the discrete KL by 3;
* ``ssiVAE(data_dim, latent_dim=2, num_classes=K, invariances=["t"])`` with
  ``auxSVItrainer(model, task="classification")`` and ``aux_loss_multiplier=50``.

    .venv-bench/bin/python benchmarks/classes_peers.py CASE.npz --epochs 100
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pyroved as pv
import torch
from class_scores import unsupervised
from sklearn.metrics import adjusted_rand_score


def jivae(x: torch.Tensor, k: int, epochs: int) -> np.ndarray:
    model = pv.models.jiVAE(x.shape[1:], latent_dim=2, discrete_dim=k, invariances=["t"])
    trainer = pv.trainers.SVItrainer(model, lr=1e-3, enumerate_parallel=True)
    loader = pv.utils.init_dataloader(x, batch_size=100)
    scale = torch.cat([torch.ones(10) * 40, torch.linspace(40, 3, 40)])
    for e in range(epochs):
        sc = scale[e] if e < len(scale) else scale[-1]
        trainer.step(loader, scale_factor=[sc, 3])
    return model.encode(x)[2].cpu().numpy()


def ssivae(x: torch.Tensor, labels: np.ndarray, k: int, epochs: int) -> np.ndarray:
    """ssiVAE on flattened patches: with (N, H, W) inputs its guide cannot concatenate the
    image with the enumerated classes (pyroVED 0.3.0 flattens inputs of 4 axes or more)."""
    model = pv.models.ssiVAE(x.shape[1:], latent_dim=2, num_classes=k, invariances=["t"])
    x = x.flatten(1)
    trainer = pv.trainers.auxSVItrainer(model, task="classification")
    known = labels >= 0
    y = torch.nn.functional.one_hot(torch.as_tensor(labels[known]), k).float()
    loaders = pv.utils.init_ssvae_dataloaders(
        x[~known], (x[known], y), (x[known], y), batch_size=100
    )
    for _ in range(epochs):
        trainer.step(*loaders, aux_loss_multiplier=50)
    return model.classifier(x).cpu().numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("npz")
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    data = np.load(args.npz)
    x = torch.as_tensor(np.clip(data["patches"], 0, 1), dtype=torch.float32)
    truth, clear, k = data["truth"], data["clear"], int(data["classes"])
    out: dict = {}
    tic = time.perf_counter()
    found = jivae(x, k, args.epochs)
    out["jiVAE"] = {
        **unsupervised(truth, found, clear, k),
        "seconds": round(time.perf_counter() - tic, 1),
    }
    for key in sorted(data.files):
        if not key.startswith("labels_"):
            continue
        labels = data[key]
        tic = time.perf_counter()
        found = ssivae(x, labels, k, args.epochs)
        unknown = labels < 0
        both = unknown & clear
        out[f"ssiVAE-{key[7:]}"] = {
            "accuracy": round(float((found[unknown] == truth[unknown]).mean()), 3),
            "clear_accuracy": round(float((found[both] == truth[both]).mean()), 3),
            "ari": round(float(adjusted_rand_score(truth[unknown], found[unknown])), 3),
            "seconds": round(time.perf_counter() - tic, 1),
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
