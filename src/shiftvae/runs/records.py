"""Records of the runs of a sweep or a study, read by both the runners and their reports.

The runners (:mod:`shiftvae.runs.sweep`, :mod:`shiftvae.runs.tune`) write a record per run;
the reports (:mod:`shiftvae.runs.sweep_report`, :mod:`shiftvae.runs.tune_report`) read them.  What
both need lives here, so the reports never import a runner.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "BETA_RANGE",
    "INTERRUPTED",
    "BatchRecord",
    "RunRecord",
    "best_record",
    "best_trial",
    "copy_run",
    "run_name",
    "trainings_to_reach",
    "was_trained",
]

BETA_RANGE = (0.1, 10.0)  # the box a study searches, in both betas
INTERRUPTED = "interrupted"  # error of a trial whose training never finished


class _Flat(Mapping):
    """Read-only mapping over a record's flat keys (those of its CSV and JSON files), so
    code and files written for plain dict records keep working."""

    def flat(self) -> dict[str, Any]:
        raise NotImplementedError

    @cached_property
    def _flat(self) -> dict[str, Any]:
        return self.flat()

    def __getitem__(self, key: str) -> Any:
        return self._flat[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def as_dict(self) -> dict[str, Any]:
        """The flat keys: exactly those of the files the record is written to."""
        return dict(self._flat)


def _numbered(record: Mapping[str, Any], prefix: str) -> tuple:
    """Values of ``prefix1``, ``prefix2``... in order (as many as the record has)."""
    out = []
    while f"{prefix}{len(out) + 1}" in record:
        out.append(record[f"{prefix}{len(out) + 1}"])
    return tuple(out)


@dataclass(frozen=True, eq=False)
class RunRecord(_Flat):
    """One training of a sweep or a study: its betas, outcome and scores.

    ``status`` is "ok" or "failed" (then ``error`` says why); ``smoothness_z`` and
    ``smoothness_shift`` hold one score per map (flat keys ``smoothness_z1``...); ``trial``
    and ``folder`` are a study's trial number and run folder.  Read as a mapping it has the
    columns of ``sweep.csv`` and ``tune.csv``.
    """

    name: str
    beta_start: float
    beta_end: float
    status: str = "failed"
    physicality: float | None = None
    final_loss: float | None = None
    final_reconstruction: float | None = None
    final_kl: float | None = None
    smoothness_z: tuple = ()
    smoothness_shift: tuple = ()
    train_s: float | None = None
    error: str = ""
    trial: int | None = None
    folder: str | None = None

    @classmethod
    def from_metrics(cls, name, beta_start, beta_end, metrics, train_s) -> RunRecord:
        """The record of a finished fit from its metrics (:attr:`FitResult.metrics`)."""
        return cls(
            name,
            beta_start,
            beta_end,
            "ok",
            physicality=metrics["physicality"],
            final_loss=metrics["final_loss"],
            final_reconstruction=metrics["final_reconstruction"],
            final_kl=metrics["final_kl"],
            smoothness_z=tuple(metrics.get("smoothness_z", ())),
            smoothness_shift=tuple(metrics.get("smoothness_shift", ())),
            train_s=train_s,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        """A record from its flat keys (a metrics.json, a CSV row); others are ignored."""
        known = {f.name for f in fields(cls)} - {"smoothness_z", "smoothness_shift"}
        values = {k: d[k] for k in known if k in d}
        values.setdefault("name", "")
        for beta in ("beta_start", "beta_end"):  # a study's trial keeps them in its params
            values.setdefault(beta, math.nan)
        values["error"] = values.get("error") or ""
        return cls(
            **values,
            smoothness_z=_numbered(d, "smoothness_z"),
            smoothness_shift=_numbered(d, "smoothness_shift"),
        )

    def flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.trial is None else {"trial": self.trial}
        out.update(
            name=self.name,
            beta_start=self.beta_start,
            beta_end=self.beta_end,
            status=self.status,
            physicality=self.physicality,
            final_loss=self.final_loss,
            final_reconstruction=self.final_reconstruction,
            final_kl=self.final_kl,
        )
        out.update({f"smoothness_z{i}": v for i, v in enumerate(self.smoothness_z, 1)})
        out.update({f"smoothness_shift{i}": v for i, v in enumerate(self.smoothness_shift, 1)})
        out.update(train_s=self.train_s, error=self.error)
        if self.folder is not None:
            out["folder"] = self.folder
        return out


@dataclass(frozen=True, eq=False)
class BatchRecord(_Flat):
    """One image of a batch (``fit-many``): where its outputs are, how it went, its scores.

    Read as a mapping it has the columns of ``summary.csv``.
    """

    image: str
    folder: str
    status: str = "failed"
    window: int | None = None
    step: int | None = None
    position: str | None = None
    decoder: str | None = None
    physicality: float | None = None
    train_s: float | None = None
    seconds: float | None = None
    error: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BatchRecord:
        """A record from its flat keys (a record.json, a CSV row); others are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: d[k] for k in known if k in d}
        values["error"] = values.get("error") or ""
        return cls(**values)

    def flat(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_name(beta_start: float, beta_end: float) -> str:
    return f"bs{beta_start:g}_be{beta_end:g}"


def best_record(records: list[RunRecord]) -> RunRecord | None:
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


def best_trial(records: list[RunRecord]) -> RunRecord | None:
    ok = [r for r in records if r["status"] == "ok"]
    return max(ok, key=lambda r: r["physicality"]) if ok else None


def was_trained(record: RunRecord) -> bool:
    """Whether a trial record stands for a training (finished, or failed on its own)."""
    return record.get("error") != INTERRUPTED


def trainings_to_reach(records: list[RunRecord], target: float, tol: float = 0.05) -> int | None:
    """How many trainings (trials in order, failed ones included) it took to come within
    ``tol`` of ``target``; None if none did.  Trials of a driver that was stopped before their
    training finished were not trainings and do not count."""
    ran = [r for r in records if was_trained(r)]
    for i, r in enumerate(sorted(ran, key=lambda r: r["trial"]), start=1):
        value = r.get("physicality")
        if r.get("status") == "ok" and value is not None and value >= (1 - tol) * target:
            return i
    return None
