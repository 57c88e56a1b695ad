"""Report of a Bayesian optimisation of the betas: history, trials, comparison with a grid."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.report import figures
from shiftvae.report.html import Section, write_report
from shiftvae.report.outdir import write_csv_atomic
from shiftvae.runs.records import (
    BETA_RANGE,
    RunRecord,
    best_trial,
    copy_run,
    trainings_to_reach,
    was_trained,
)

log = logging.getLogger(__name__)

TOL = 0.05  # "within 5% of the grid search's best physicality"


def history_figure(records: list[RunRecord], grid: float | None):
    """Physicality per trial (failed trials as crosses) with the best so far."""
    import matplotlib.pyplot as plt

    n = np.array([r["trial"] for r in records]) + 1
    ok = np.array([r["status"] == "ok" for r in records], dtype=bool)
    values = np.array([r["physicality"] if r["status"] == "ok" else np.nan for r in records])
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(n[ok], values[ok], "o", ms=4, label="trial")
    if ok.any():
        best = np.fmax.accumulate(np.where(ok, values, -np.inf))
        ax.step(n[best > -np.inf], best[best > -np.inf], where="post", label="best so far")
    if (~ok).any():
        low = np.nanmin(values) if ok.any() else 0.0
        ax.plot(n[~ok], np.full((~ok).sum(), low), "x", color="tab:red", label="failed")
    if grid is not None:
        ax.axhline(grid, color="k", ls="--", lw=0.8, label="grid search best")
        ax.axhline((1 - TOL) * grid, color="grey", ls=":", lw=0.8, label="within 5%")
    ax.set_xlabel("training (trial number)")
    ax.set_ylabel("physicality")
    ax.set_title("optimisation history")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def trials_figure(records: list[RunRecord]):
    """Where the trials went in (beta_start, beta_end), coloured by physicality."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.0))
    ok = [r for r in records if r["status"] == "ok"]
    bad = [r for r in records if r["status"] != "ok"]
    if ok:
        sc = ax.scatter(
            [r["beta_end"] for r in ok],
            [r["beta_start"] for r in ok],
            c=[r["physicality"] for r in ok],
            cmap="viridis",
            s=30,
            edgecolors="k",
            linewidths=0.4,
        )
        fig.colorbar(sc, ax=ax, label="physicality")
        b = best_trial(records)
        ax.plot(b["beta_end"], b["beta_start"], "*", ms=16, mfc="none", mec="tab:red", label="best")
    if bad:
        ax.plot(
            [r["beta_end"] for r in bad], [r["beta_start"] for r in bad], "x", color="tab:red",
            label="failed",
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*BETA_RANGE)
    ax.set_ylim(*BETA_RANGE)
    ax.set_xlabel("beta end")
    ax.set_ylabel("beta start")
    ax.set_title("trials")
    if ok or bad:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def write_tune_csv(path: Path, records: list[RunRecord]) -> Path:
    fields: list[str] = []
    for r in records:
        fields.extend(k for k in r if k not in fields and k != "folder")
    return write_csv_atomic(path, fields, records)


def write_tune_outputs(
    out: Path, records: list[RunRecord], grid: float | None, storage: str
) -> dict[str, Any]:
    """tune.csv, tune.json, best/, figures and report.html in ``out``; returns the summary."""
    write_tune_csv(out / "tune.csv", records)
    best = best_trial(records)
    n_ok = sum(r["status"] == "ok" for r in records)
    n_trained = sum(was_trained(r) for r in records)
    reached = trainings_to_reach(records, grid, TOL) if grid is not None and records else None
    best_copied = False
    if best is not None:
        src = out / "runs" / best["name"]
        if not src.is_dir() and best.get("folder"):
            src = Path(best["folder"])
        if (src / "metrics.json").is_file():
            copy_run(src, out / "best")
            best_copied = True
        else:
            log.warning("the best trial's outputs (%s) are not available here", best["name"])
    summary = {
        "trials": len(records),
        "completed": n_ok,
        "failed": len(records) - n_ok,
        "best": None if best is None else best.as_dict(),
        "grid_best": grid,
        "trainings_to_within_5pct_of_grid": reached,
        "storage": storage,
    }
    (out / "tune.json").write_text(json.dumps(summary, indent=2, default=str))
    hist = figures.save(history_figure(records, grid), out / "figures" / "optimisation_history.png")
    where = figures.save(trials_figure(records), out / "figures" / "trials.png")
    if best is not None:
        text = (
            f"Best of {n_ok} completed trials ({len(records) - n_ok} failed): beta_start "
            f"{best['beta_start']:.3g}, beta_end {best['beta_end']:.3g}, physicality "
            f"{best['physicality']:.4f} (trial {best['trial']})."
        )
        if best_copied:
            text += " Its full outputs are in best/."
    else:
        text = f"No trial completed ({len(records)} failed)."
    if grid is None:
        text += (
            "\n\nNo grid search was given (--grid SWEEP_CSV), so the number of trainings "
            "needed to come within 5% of the grid search's best physicality is not known."
        )
    elif reached is not None:
        text += (
            f"\n\nGrid search best physicality: {grid:.4f}. Bayesian optimisation came within "
            f"5% of it ({(1 - TOL) * grid:.4f}) after {reached} trainings."
        )
    else:
        text += (
            f"\n\nGrid search best physicality: {grid:.4f}. Bayesian optimisation did not come "
            f"within 5% of it ({(1 - TOL) * grid:.4f}) in {n_trained} trainings."
        )
    text += f"\n\nThe study is stored in {storage}; run again to add trials."

    def fmt(v: Any) -> Any:
        return "" if v is None else v

    rows = [
        [
            r["trial"],
            r["beta_start"],
            r["beta_end"],
            r["status"],
            fmt(r["physicality"]),
            fmt(r.get("final_loss")),
            fmt(r.get("final_reconstruction")),
            fmt(r.get("final_kl")),
            r.get("error") or "",
        ]
        for r in records
    ]
    header = [
        "trial",
        "beta start",
        "beta end",
        "status",
        "physicality",
        "final loss",
        "reconstruction",
        "KL",
        "error",
    ]
    write_report(
        out / "report.html",
        "shiftvae tune",
        [
            Section(
                "Bayesian optimisation of beta",
                text,
                figures=[
                    (hist, "physicality per training and the best so far"),
                    (where, "trials over (beta_start, beta_end), log scale"),
                ],
                tables=[(header, rows)],
            )
        ],
    )
    return summary
