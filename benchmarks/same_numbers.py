"""Fit a generated lattice and two real STEM images, and write what a refactor must keep.

For each image: the geometry JSON of a default fit (epochs shortened to keep this quick;
every other option default), its maps, and its encoding, under ``OUT/<name>/``; on the
generated lattice also the paper's model (no lattice: Gaussian shift, canvas decoder) and
the posed model (rotation and scale latents).  Run it
before and after a change, then ``--compare BEFORE AFTER`` prints the largest differences.

    .venv/bin/python benchmarks/same_numbers.py /tmp/before
    .venv/bin/python benchmarks/same_numbers.py /tmp/after
    .venv/bin/python benchmarks/same_numbers.py --compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = {"srtio3": "srtio3_haadf.ser", "perovskite": "perovskite_adf_atomap.hdf5"}
EPOCHS = 30


def images():
    import shiftvae as sv
    from shiftvae.synthetic.crystals import intensity_ratio_crystal

    generated = intensity_ratio_crystal(256, seed=0)[0]
    yield "generated", generated, {}
    yield "generated-paper-model", generated, {"lattice": None}
    yield "generated-posed", generated, {"rotation": 4, "scale": "isotropic"}
    for name, file in IMAGES.items():
        if (SHARED / file).exists():
            yield name, sv.read_image(SHARED / file), {}


def run(out: Path) -> None:
    import torch

    import shiftvae as sv

    torch.set_num_threads(1)
    for name, image, options in images():
        config = sv.FitConfig(epochs=EPOCHS, **options)
        res = sv.fit_image(image, config, progress=False)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        geo = res.geometry.as_dict() if hasattr(res.geometry, "as_dict") else dict(res.geometry)
        (d / "geometry.json").write_text(json.dumps(geo, sort_keys=True, default=str, indent=1))
        np.save(d / "maps.npy", np.concatenate([res.maps.z, res.maps.shift]))
        np.save(d / "mean.npy", np.hstack([res.encoding.z_mean, res.encoding.shift_mean]))
        print(name, "done", flush=True)


def compare(a: Path, b: Path) -> int:
    worst = 0.0
    for da in sorted(p for p in a.iterdir() if p.is_dir()):
        db = b / da.name
        same_geo = (da / "geometry.json").read_text() == (db / "geometry.json").read_text()
        diffs = {}
        for f in ("maps.npy", "mean.npy"):
            x, y = np.load(da / f), np.load(db / f)
            diffs[f] = float(np.nanmax(np.abs(x - y))) if x.shape == y.shape else float("inf")
            worst = max(worst, diffs[f])
        print(
            f"{da.name}: geometry JSON {'identical' if same_geo else 'DIFFERS'}; "
            + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in diffs.items())
        )
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--compare", nargs=2, type=Path)
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    run(args.out)
