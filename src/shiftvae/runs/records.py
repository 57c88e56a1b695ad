"""Records of the runs of a sweep or a study, read by both the runners and their reports.

The runners (:mod:`shiftvae.runs.sweep`, :mod:`shiftvae.runs.tune`) write a record per run;
the reports (:mod:`shiftvae.runs.sweep_report`, :mod:`shiftvae.runs.tune_report`) read them.  What
both need lives here, so the reports never import a runner.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

__all__ = [
    "BETA_RANGE",
    "INTERRUPTED",
    "best_record",
    "best_trial",
    "copy_run",
    "run_name",
    "trainings_to_reach",
    "was_trained",
]

BETA_RANGE = (0.1, 10.0)  # the box a study searches, in both betas
INTERRUPTED = "interrupted"  # error of a trial whose training never finished


def run_name(beta_start: float, beta_end: float) -> str:
    return f"bs{beta_start:g}_be{beta_end:g}"


def best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The successful run with the highest physicality (None if all failed)."""
    ok = [
        r
        for r in records
        if r.get("status") == "ok"
        and r.get("physicality") is not None
        and math.isfinite(float(r["physicality"]))
    ]
    return max(ok, key=lambda r: float(r["physicality"])) if ok else None


def copy_run(src: Path, dst: Path) -> None:
    """Replace ``dst`` by a copy of the run folder ``src``."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)


def best_trial(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [r for r in records if r["status"] == "ok"]
    return max(ok, key=lambda r: r["physicality"]) if ok else None


def was_trained(record: dict[str, Any]) -> bool:
    """Whether a trial record stands for a training (finished, or failed on its own)."""
    return record.get("error") != INTERRUPTED


def trainings_to_reach(
    records: list[dict[str, Any]], target: float, tol: float = 0.05
) -> int | None:
    """How many trainings (trials in order, failed ones included) it took to come within
    ``tol`` of ``target``; None if none did.  Trials of a driver that was stopped before their
    training finished were not trainings and do not count."""
    ran = [r for r in records if was_trained(r)]
    for i, r in enumerate(sorted(ran, key=lambda r: r["trial"]), start=1):
        value = r.get("physicality")
        if r.get("status") == "ok" and value is not None and value >= (1 - tol) * target:
            return i
    return None
