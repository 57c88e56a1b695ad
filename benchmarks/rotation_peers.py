"""Train a peer's rotation-invariant VAE on saved patches; write its per-patch angles.

Run by ``bench_rotation.py`` in the peer's own environment::

    .venv-bench/bin/python benchmarks/rotation_peers.py pyroved PATCHES.npy EPOCHS OUT.json
    .venv-atomai/bin/python benchmarks/rotation_peers.py atomai PATCHES.npy EPOCHS OUT.json

Each at its recommended settings: pyroVED ``iVAE(invariances=['r', 't'])`` (``pyroved``) or
``iVAE(invariances=['r', 't', 's'])`` (``pyroved-scale``, for the strain cases) with every
other argument at its default (``SVItrainer``, batch 100); atomai ``rVAE`` with its defaults
(``fit(training_cycles=EPOCHS, batch_size=100)``).  The angle is each one's first latent, in
radians; the content latents follow the rotation, the two translations and the scale.
pyroVED's scale multiplies the decoder's coordinates by ``1 + sc_prior z``, which shrinks the
drawn motif, so the relative lattice parameter it reports is the inverse of that factor.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import numpy as np


def pyroved(x: np.ndarray, epochs: int, scale: bool = False) -> dict:
    import pyroved as pv
    import torch

    torch.manual_seed(0)
    data = torch.as_tensor(x)
    invariances = ["r", "t", "s"] if scale else ["r", "t"]
    model = pv.models.iVAE(x.shape[1:], latent_dim=2, invariances=invariances, seed=0)
    trainer = pv.trainers.SVItrainer(model)
    loader = pv.utils.init_dataloader(data, batch_size=100)
    for _ in range(epochs):
        trainer.step(loader)
    loc, _ = model.encode(data)
    loc = loc.detach().cpu().numpy()
    out = {"angle": loc[:, 0], "z": loc[:, len(invariances) + 1 :]}
    if scale:
        out["scale"] = 1.0 / (1.0 + float(model.sc_prior) * loc[:, 3])
    return out


def atomai(x: np.ndarray, epochs: int) -> dict:
    from atomai.models import rVAE

    with tempfile.TemporaryDirectory() as tmp:
        model = rVAE(x.shape[1:], latent_dim=2, seed=0)
        model.fit(x, training_cycles=epochs, batch_size=100, filename=f"{tmp}/model")
        mean, _ = model.encode(x)
    return {"angle": mean[:, 0], "z": mean[:, 3:]}


PEERS = {
    "pyroved": pyroved,
    "pyroved-scale": lambda x, epochs: pyroved(x, epochs, scale=True),
    "atomai": atomai,
}


def main() -> None:
    name, path, epochs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    x = np.load(path).astype(np.float32)
    tic = time.perf_counter()
    result = PEERS[name](x, epochs)
    seconds = time.perf_counter() - tic
    with open(out, "w") as f:
        json.dump({k: np.asarray(v).tolist() for k, v in result.items()} | {"seconds": seconds}, f)


if __name__ == "__main__":
    main()
