"""``shiftvae fit A B C ... --out DIR``: one model for a series of images.

Writes, together or not at all:

* ``model.pt``: the shared model (``--transfer`` it to encode more frames);
* one folder per image, ``01_<name>/`` ..., each the folder ``shiftvae fit`` writes for one
  image (results.h5, figures, report.html, run.json), its maps in the shared latent space;
* ``series.json``: per image its folder, patches, physicality, smoothness and the mean and
  spread of each conventional latent;
* ``series_latents.png``: each conventional latent's distribution against the image number;
* ``series.h5``: one NXentry per image (named as its folder), laid out as results.h5;
* ``series_maps.png``: every image's maps side by side, one colour scale per latent across
  the images (so equal colours are equal latents), and ``series_maps.gif``, the same maps
  as a movie over the images;
* ``report.html``: the summary table and these figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from shiftvae.pipeline.fit import FitConfig
from shiftvae.pipeline.series import SeriesResult, fit_images
from shiftvae.report import figures
from shiftvae.report.fit_outputs import write_outputs
from shiftvae.report.html import Section, write_report
from shiftvae.report.outdir import atomic_output_dir
from shiftvae.results import write_series_h5
from shiftvae.types import Image


def run_series(
    out: Path, overwrite: bool, frames: list[Image], config: FitConfig, draw: bool = True
) -> Path:
    """Fit ``frames`` with one model and write the series folder ``out`` (``draw``: each
    image's figures/*.png too)."""
    started = time.perf_counter()
    series = fit_images(frames, config, progress=True)
    with atomic_output_dir(out, overwrite) as tmp:
        series.model.save(tmp / "model.pt")
        rows = []
        for i, result in enumerate(series.results):
            name = f"{i + 1:02d}_{Path(result.image.source).stem or 'image'}"
            (tmp / name).mkdir()
            write_outputs(tmp / name, result, started, draw)
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
        names = [r["folder"] for r in rows]
        stacks, limits = [r.maps.z for r in series.results], shared_limits(series)
        write_series_h5(tmp / "series.h5", list(zip(names, series.results)), "model.pt")
        figs = [
            (figures.save(figures.maps_grid(stacks, names, limits), tmp / "series_maps.png"),
             "every image's conventional maps, one colour scale per latent across images"),
            (figures.save(latents_figure(series), tmp / "series_latents.png"),
             "each conventional latent's distribution against the image number"),
        ]  # fmt: skip
        figures.maps_movie(stacks, names, limits, tmp / "series_maps.gif")
        write_series_report(tmp / "report.html", rows, figs)
    return out


def shared_limits(series: SeriesResult) -> list[tuple[float, float]]:
    """One (low, high) colour range per latent over every image: 1st and 99th percentiles."""
    z = [r.maps.z for r in series.results]
    return [
        tuple(np.percentile(np.concatenate([m[k].ravel() for m in z]), [1, 99]))
        for k in range(z[0].shape[0])
    ]


def write_series_report(path: Path, rows: list[dict], figs: list[tuple[Path, str]]) -> Path:
    """report.html of a series: one table row per image, then the series figures."""
    table = [
        [r["folder"], r["patches"], f"{r['physicality']:.4f}"]
        + [f"{m:+.3f} ({sd:.3f})" for m, sd in zip(r["z_mean"], r["z_spread"])]
        for r in rows
    ]
    header = ["image", "patches", "physicality"] + [
        f"z{k + 1} mean (spread)" for k in range(len(rows[0]["z_mean"]))
    ]
    sections = [
        Section("Images", tables=[(header, table)]),
        Section("Maps in one latent space", figures=figs),
    ]
    return write_report(path, f"shiftvae series of {len(rows)} images", sections)


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
