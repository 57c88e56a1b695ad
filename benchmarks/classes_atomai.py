"""atomai's jrVAE on the patches of ``bench_classes.py`` (run in .venv-atomai).

``bench_classes.py --peers`` writes each case's patches, true classes and clear cells to an
``.npz`` (as for pyroVED, ``classes_peers.py``) and runs this script on it in atomai's
environment (``bash benchmarks/setup_atomai_env.sh``); it prints one JSON line.

Settings are atomai's documented ones (the jrVAE docstring and its defaults):
``jrVAE(in_dim, latent_dim=2, discrete_dim=[K], translation=True)``, ``fit`` with the
mean-square-error loss, batch size 100, ``translation_prior=0.1``, ``rotation_prior=0.1``
and the default capacity schedules ([5, 25000, 30]) and Gumbel-softmax temperature (0.67).
The class of a patch is the largest of its encoded discrete probabilities.  A second run,
``jrVAE-scaled``, ends both capacity schedules with the run (the defaults' 25 000
iterations are far more than 50 epochs of a few thousand patches give).

    .venv-atomai/bin/python benchmarks/classes_atomai.py CASE.npz --epochs 50
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from class_scores import unsupervised


def jrvae(x: np.ndarray, k: int, epochs: int, scaled: bool = False) -> np.ndarray:
    """jrVAE's classes; ``scaled``: both capacity schedules reach their maximum at the end
    of this run (atomai's defaults take 25 000 iterations, far more than a run here has)."""
    import atomai as aoi

    model = aoi.models.jrVAE(x.shape[1:], latent_dim=2, discrete_dim=[k], translation=True)
    extra = {}
    if scaled:
        iters = epochs * int(np.ceil(len(x) / 100))
        extra = {"cont_capacity": [5.0, iters, 30], "disc_capacity": [5.0, iters, 30]}
    model.fit(
        x,
        training_cycles=epochs,
        batch_size=100,
        loss="mse",
        translation_prior=0.1,
        rotation_prior=0.1,
        **extra,
    )
    encoded = model.encode(x)
    alphas = encoded[-1]
    alphas = alphas[0] if isinstance(alphas, list | tuple) else alphas
    return np.asarray(alphas).argmax(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("npz")
    p.add_argument("--epochs", type=int, default=50)
    args = p.parse_args()
    data = np.load(args.npz)
    x = np.clip(data["patches"], 0, 1).astype(np.float32)
    truth, clear, k = data["truth"], data["clear"], int(data["classes"])
    out = {}
    for name, scaled in (("jrVAE", False), ("jrVAE-scaled", True)):
        tic = time.perf_counter()
        found = jrvae(x, k, args.epochs, scaled)
        out[name] = {
            **unsupervised(truth, found, clear, k),
            "seconds": round(time.perf_counter() - tic, 1),
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
