"""One model for a series against one fit per frame: does the map order the frames?

A generated time series of 8 frames (``intensity_ratio_crystal``, 384 px, cell 24 px, one
seed, so the same field shape, noise and scan drift in every frame) in which the B/A ratio
field grows from nothing: frame t spans 0.55 +- 0.25 t / 7.  Then:

* ``sv.fit_images(frames)``: one model, every frame's latents in one space;
* ``sv.fit_image(frame)`` for each frame separately.

Per frame and method, the spread (standard deviation over the patches) of the conventional
latent that varies most over the series (for the separate fits: of each fit's own most
varying latent), and the Spearman correlation of that spread with the frame number: the
order parameter grows, so a shared latent space should order the frames (1.0 is perfect);
and the Pearson correlation of the spread with the field's amplitude, which grows linearly:
in one latent space the spread should follow it.
The spread is used rather than the mean |latent|, because a latent's zero is where the prior
puts it, not where the order parameter vanishes.

    .venv/bin/python benchmarks/bench_series.py

Writes ``benchmarks/results/bench_series.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

import shiftvae as sv

HERE = Path(__file__).resolve().parent
FRAMES = 8


def series(size: int = 384, seed: int = 0) -> list[np.ndarray]:
    out = []
    for t in range(FRAMES):
        a = 0.25 * t / (FRAMES - 1)
        img, _ = sv.synthetic.intensity_ratio_crystal(
            size=size, cell=24.0, ratio_range=(0.55 - a, 0.55 + a), seed=seed
        )
        out.append(img)
    return out


def spreads_shared(result: sv.SeriesResult) -> list[float]:
    z = [r.encoding.z_mean for r in result.results]
    k = int(np.argmax(np.concatenate(z).std(axis=0)))
    return [float(zi[:, k].std()) for zi in z]


def main() -> int:
    frames = series()
    out: dict = {"frames": FRAMES, "command": "python benchmarks/bench_series.py"}
    tic = time.perf_counter()
    shared = sv.fit_images(frames, progress=False)
    out["shared"] = {"seconds": round(time.perf_counter() - tic, 1)}
    out["shared"]["spread"] = [round(s, 4) for s in spreads_shared(shared)]
    tic = time.perf_counter()
    separate = []
    for frame in frames:
        z = sv.fit_image(frame, progress=False).encoding.z_mean
        separate.append(float(z[:, int(np.argmax(z.std(axis=0)))].std()))
    out["separate"] = {"seconds": round(time.perf_counter() - tic, 1)}
    out["separate"]["spread"] = [round(s, 4) for s in separate]
    for key in ("shared", "separate"):
        rho = spearmanr(np.arange(FRAMES), out[key]["spread"]).statistic
        out[key]["spearman_with_frame"] = round(float(rho), 3)
        amplitude = 0.25 * np.arange(FRAMES) / (FRAMES - 1)
        r = pearsonr(amplitude, out[key]["spread"]).statistic
        out[key]["pearson_with_amplitude"] = round(float(r), 3)
        print(key, json.dumps(out[key]), flush=True)
    (HERE / "results" / "bench_series.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
