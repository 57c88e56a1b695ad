"""Heat map of physicality over (beta_start, beta_end), the maps of selected runs beside it."""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.report import figures
from shiftvae.report.html import Section, write_report
from shiftvae.results import load_results
from shiftvae.runs.records import RunRecord, run_name


def physicality_grid(records: list[RunRecord], starts, ends) -> np.ndarray:
    """(len(starts), len(ends)) array of physicality, NaN where a run failed."""
    grid = np.full((len(starts), len(ends)), np.nan)
    index = {run_name(float(r["beta_start"]), float(r["beta_end"])): r for r in records}
    for i, s in enumerate(starts):
        for j, e in enumerate(ends):
            r = index.get(run_name(float(s), float(e)))
            if r and r.get("status") == "ok" and r.get("physicality") is not None:
                grid[i, j] = float(r["physicality"])
    return grid


def selected_runs(grid: np.ndarray, starts, ends) -> list[tuple[float, float]]:
    """Corners, centre and best of the grid: where the paper shows maps beside Fig. 8."""
    picks = {
        (0, 0),
        (0, len(ends) - 1),
        (len(starts) - 1, 0),
        (len(starts) - 1, len(ends) - 1),
        (len(starts) // 2, len(ends) // 2),
    }
    if np.isfinite(grid).any():
        i, j = np.unravel_index(np.nanargmax(grid), grid.shape)
        picks.add((int(i), int(j)))
    return [(starts[i], ends[j]) for i, j in sorted(picks) if np.isfinite(grid[i, j])]


def overview_figure(grid: np.ndarray, starts, ends, panels: list[dict[str, Any]]):
    """The heat map (rows beta_start, cols beta_end) with the selected runs' z maps beside it.

    ``panels``: dicts with ``label``, ``i``, ``j`` (grid cell), ``z`` (l, rows, cols) and
    ``title``.
    """
    import matplotlib.pyplot as plt

    n_maps = max((p["z"].shape[0] for p in panels), default=0)
    heat_w = 1.0 * len(ends) + 2.5
    heat_h = 0.8 * len(starts) + 1.8
    maps_w = 1.9 * n_maps
    fig = plt.figure(figsize=(heat_w + maps_w + 0.3, max(heat_h, 1.75 * len(panels) + 0.6)))
    if panels:
        left, right = fig.subfigures(1, 2, width_ratios=[heat_w, maps_w + 0.3])
    else:
        left, right = fig, None
    ax = left.add_subplot(111)
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(ends)), [f"{x:g}" for x in ends])
    ax.set_yticks(range(len(starts)), [f"{y:g}" for y in starts])
    ax.set_xlabel("beta end")
    ax.set_ylabel("beta start")
    lo, hi = (np.nanmin(grid), np.nanmax(grid)) if np.isfinite(grid).any() else (0.0, 1.0)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):  # dark text on the bright end of viridis
            bright = hi > lo and (v - lo) / (hi - lo) > 0.6
            ax.text(
                j, i, f"{v:.3g}", ha="center", va="center", fontsize=8, color="k" if bright else "w"
            )
        else:
            ax.text(j, i, "failed", ha="center", va="center", fontsize=8, color="tab:red")
    for p in panels:
        ax.text(
            p["j"] - 0.45, p["i"] + 0.42, p["label"], ha="left", va="top", fontsize=9,
            fontweight="bold", color="orange",
        )  # fmt: skip
    left.colorbar(im, ax=ax, label="physicality (best smoothness of z maps)")
    ax.set_title("beta grid search (paper Fig. 8)")
    if right is not None:
        rows = right.subfigures(len(panels), 1, squeeze=False)[:, 0]
        for sub, p in zip(rows, panels):
            axes = sub.subplots(1, n_maps, squeeze=False)[0]
            for k, a in enumerate(axes):
                a.set_axis_off()
                if k < p["z"].shape[0]:
                    a.imshow(p["z"][k], cmap="RdBu_r", interpolation="nearest")
            sub.suptitle(p["title"], fontsize=8)
    return fig


def write_sweep_report(out: Path, records, starts, ends, runs_dir: Path, best: dict | None) -> Path:
    """figures/physicality_heatmap.png, grid.json and report.html in ``out``."""
    grid = physicality_grid(records, starts, ends)
    fig_dir = out / "figures"
    panels = []
    for k, (s, e) in enumerate(selected_runs(grid, starts, ends)):
        try:
            res = load_results(runs_dir / run_name(s, e))
        except Exception:  # a run folder damaged since: show the heat map without it
            continue
        label = string.ascii_uppercase[k % 26]
        best_mark = " (best)" if best and run_name(s, e) == best["name"] else ""
        panels.append(
            {
                "label": label,
                "i": list(starts).index(s),
                "j": list(ends).index(e),
                "z": np.asarray(res.maps.z),
                "title": f"{label}: beta {s:g} -> {e:g}, physicality "
                f"{res.metrics['physicality']:.3f}{best_mark}; maps z1..z{res.maps.z.shape[0]}",
            }
        )
    heat = figures.save(
        overview_figure(grid, starts, ends, panels), fig_dir / "physicality_heatmap.png"
    )

    smooth_cols = sorted(
        (k for r in records for k in r if k.startswith("smoothness_z") and k[12:].isdigit()),
        key=lambda k: int(k[12:]),
    )
    smooth_cols = list(dict.fromkeys(smooth_cols))

    def num(r: dict, key: str) -> Any:
        v = r.get(key)
        return float(v) if r.get("status") == "ok" and v is not None else ""

    rows = [
        [
            r["name"],
            float(r["beta_start"]),
            float(r["beta_end"]),
            r["status"],
            num(r, "physicality"),
            *(num(r, c) for c in smooth_cols),
            num(r, "final_loss"),
            num(r, "final_reconstruction"),
            num(r, "final_kl"),
            r.get("error") or "",
        ]
        for r in sorted(records, key=lambda r: (float(r["beta_start"]), float(r["beta_end"])))
    ]
    header = [
        "run",
        "beta start",
        "beta end",
        "status",
        "physicality",
        *(f"smoothness {c[11:]}" for c in smooth_cols),
        "final loss",
        "reconstruction",
        "KL",
        "error",
    ]
    n_failed = sum(r.get("status") != "ok" for r in records)
    text = (
        f"{len(records)} runs over {len(starts)} starting x {len(ends)} final betas, each "
        "training one model on the same patches. Physicality is the largest smoothness of the "
        "conventional latent maps (share of Fourier power near k = 0): higher means smoother, "
        "more physical maps. The letters on the heat map mark the runs whose conventional "
        "maps are shown beside it."
    )
    if n_failed:
        text += f"\n\n{n_failed} runs failed; their errors are in the table and in sweep.csv."
    if best:
        text += (
            f"\n\nBest: beta_start {float(best['beta_start']):g}, beta_end "
            f"{float(best['beta_end']):g}, physicality {float(best['physicality']):.4f}; its "
            "full outputs (results.h5, model.pt, report.html) are in best/."
        )
    else:
        text += "\n\nNo run succeeded."
    sections = [
        Section(
            "Grid search",
            text,
            figures=[(heat, "physicality over the beta grid, with the maps of marked runs")],
            tables=[(header, rows)],
        )
    ]
    (out / "grid.json").write_text(
        json.dumps(
            {
                "beta_start": [float(s) for s in starts],
                "beta_end": [float(e) for e in ends],
                "physicality": [[None if math.isnan(v) else v for v in row] for row in grid],
                "best": None if best is None else best["name"],
            },
            indent=1,
        )
    )
    return write_report(out / "report.html", "shiftvae sweep", sections)
