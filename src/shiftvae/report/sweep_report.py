"""Heat map of physicality over (beta_start, beta_end) and the maps of selected runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.report import figures
from shiftvae.report.html import Section, write_report


def physicality_grid(records: list[dict[str, Any]], starts, ends) -> np.ndarray:
    """(len(starts), len(ends)) array of physicality, NaN where a run failed."""
    grid = np.full((len(starts), len(ends)), np.nan)
    index = {(float(r["beta_start"]), float(r["beta_end"])): r for r in records}
    for i, s in enumerate(starts):
        for j, e in enumerate(ends):
            r = index.get((float(s), float(e)))
            if r and r.get("status") == "ok":
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
        picks.add(np.unravel_index(np.nanargmax(grid), grid.shape))
    return [(starts[i], ends[j]) for i, j in sorted(picks) if np.isfinite(grid[i, j])]


def write_sweep_report(out: Path, records, starts, ends, runs_dir: Path, best: dict | None) -> Path:
    from shiftvae.results import load_results
    from shiftvae.sweep import run_name

    grid = physicality_grid(records, starts, ends)
    fig_dir = out / "figures"
    heat = figures.save(
        figures.heatmap(
            grid,
            ends,
            starts,
            "beta end",
            "beta start",
            "physicality (best smoothness of z maps)",
            "beta grid search (paper Fig. 8)",
        ),
        fig_dir / "physicality_heatmap.png",
    )
    figs = [(heat, "physicality over the beta grid: higher = smoother conventional maps")]
    for s, e in selected_runs(grid, starts, ends):
        res = load_results(runs_dir / run_name(s, e))
        names = [f"z{i + 1}" for i in range(res.maps.z.shape[0])]
        fig = figures.map_panels(
            res.maps.z,
            names,
            title=f"beta {s:g} -> {e:g}: physicality {res.metrics['physicality']:.3f}",
        )
        figs.append(
            (
                figures.save(fig, fig_dir / f"maps_{run_name(s, e)}.png"),
                f"conventional maps at beta_start {s:g}, beta_end {e:g}",
            )
        )
    rows = [
        [
            r["name"],
            r["beta_start"],
            r["beta_end"],
            r["status"],
            float(r["physicality"]) if r.get("status") == "ok" else "",
            float(r["final_loss"]) if r.get("status") == "ok" else "",
            r.get("error") or "",
        ]
        for r in sorted(records, key=lambda r: (r["beta_start"], r["beta_end"]))
    ]
    text = (
        "Each cell trains one model on the same patches. Physicality is the largest "
        "smoothness of the conventional latent maps (share of Fourier power near k = 0)."
    )
    if best:
        text += (
            f"\n\nBest: beta_start {best['beta_start']:g}, beta_end {best['beta_end']:g}, "
            f"physicality {float(best['physicality']):.4f}; its full outputs are in best/."
        )
    sections = [
        Section(
            "Grid search",
            text,
            figures=figs,
            tables=[
                (
                    [
                        "run",
                        "beta start",
                        "beta end",
                        "status",
                        "physicality",
                        "final loss",
                        "error",
                    ],
                    rows,
                )
            ],
        )
    ]
    (out / "grid.json").write_text(
        json.dumps(
            {"beta_start": list(starts), "beta_end": list(ends), "physicality": grid.tolist()},
            indent=1,
        )
    )
    return write_report(out / "report.html", "shiftvae sweep", sections)
