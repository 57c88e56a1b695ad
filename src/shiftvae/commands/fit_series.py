"""``shiftvae fit A B C ... --out DIR``: one model for a series of images.

Writes, together or not at all:

* ``model.pt``: the shared model (``--transfer`` it to encode more frames);
* one folder per image, ``01_<name>/`` ..., each the folder ``shiftvae fit`` writes for one
  image (results.h5, figures, report.html, run.json), its maps in the shared latent space;
* ``series.json``: per image its folder, patches, physicality, smoothness and the mean and
  spread of each conventional latent;
* ``series_latents.png``: each conventional latent's distribution against the image number.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from shiftvae.pipeline import FitConfig
from shiftvae.report import figures
from shiftvae.report.fit_outputs import write_outputs
from shiftvae.report.outdir import atomic_output_dir
from shiftvae.series import SeriesResult, fit_images
from shiftvae.types import Image


def run_series(out: Path, overwrite: bool, frames: list[Image], config: FitConfig) -> Path:
    """Fit ``frames`` with one model and write the series folder ``out``."""
    started = time.perf_counter()
    series = fit_images(frames, config, progress=True)
    with atomic_output_dir(out, overwrite) as tmp:
        series.model.save(tmp / "model.pt")
        rows = []
        for i, result in enumerate(series.results):
            name = f"{i + 1:02d}_{Path(result.image.source).stem or 'image'}"
            (tmp / name).mkdir()
            write_outputs(tmp / name, result, started)
            z = result.encoding.z_mean
            rows.append(
                {
                    "image": result.image.source,
                    "folder": name,
                    "patches": len(result.patches),
                    "physicality": result.metrics["physicality"],
                    "smoothness_z": result.metrics["smoothness_z"],
                    "z_mean": z.mean(axis=0).tolist(),
                    "z_spread": z.std(axis=0).tolist(),
                }
            )
        summary = {"images": rows, "timings": series.timings, "model": "model.pt"}
        (tmp / "series.json").write_text(json.dumps(summary, indent=1))
        figures.save(latents_figure(series), tmp / "series_latents.png")
    return out


def latents_figure(series: SeriesResult):
    """Box plots of each conventional latent per image, images in order."""
    import matplotlib.pyplot as plt

    z = [r.encoding.z_mean for r in series.results]
    n = z[0].shape[1]
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.boxplot([zi[:, k] for zi in z], showfliers=False)
        ax.set_xlabel("image")
        ax.set_ylabel(f"z{k + 1}")
        ax.set_title(f"z{k + 1} per image (shared model)")
    fig.tight_layout()
    return fig


def check_series_options(args) -> str | None:
    """Why these options cannot take several images (None when they can)."""
    if getattr(args, "resume", False):
        return "--resume continues one interrupted image fit; give one image"
    if getattr(args, "transfer", None) is not None:
        return "--transfer encodes one image; run it once per image"
    return None


__all__ = ["latents_figure", "run_series"]
