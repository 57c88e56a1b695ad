"""Typed run records read and write exactly the keys of the files they came from."""

from __future__ import annotations

import json
import pickle

from shiftvae.runs.records import BatchRecord, RunRecord, best_record

METRICS = {
    "physicality": 0.8,
    "final_loss": 10.0,
    "final_reconstruction": 9.0,
    "final_kl": 1.0,
    "smoothness_z": [0.7, 0.6],
    "smoothness_shift": [0.9],
}


def test_a_run_record_has_the_flat_keys_of_sweep_csv_and_reads_them_back():
    record = RunRecord.from_metrics("bs0.1_be1", 0.1, 1.0, METRICS, train_s=3.0)
    flat = record.as_dict()
    assert list(flat) == [
        "name", "beta_start", "beta_end", "status", "physicality", "final_loss",
        "final_reconstruction", "final_kl", "smoothness_z1", "smoothness_z2",
        "smoothness_shift1", "train_s", "error",
    ]  # fmt: skip
    assert record["smoothness_z2"] == 0.6 and record.get("trial") is None
    again = RunRecord.from_dict(json.loads(json.dumps({**flat, "config": {"seed": 0}})))
    assert again == record and again.smoothness_z == (0.7, 0.6)
    assert pickle.loads(pickle.dumps(record)) == record  # returned from Dask workers


def test_a_failed_record_and_a_trial_keep_their_own_keys():
    failed = RunRecord("bs1_be1", 1.0, 1.0, error="ValueError: no")
    assert failed["status"] == "failed" and failed["physicality"] is None
    trial = RunRecord.from_dict({"trial": 3, "folder": "runs/t3", **failed.as_dict()})
    assert trial.trial == 3 and next(iter(trial)) == "trial" and trial["folder"] == "runs/t3"
    assert best_record([failed, trial]) is None


def test_the_best_record_is_the_highest_finite_physicality():
    records = [
        RunRecord.from_metrics(f"r{p}", 1.0, 1.0, {**METRICS, "physicality": p}, 1.0)
        for p in (0.2, float("nan"), 0.9, 0.5)
    ]
    assert best_record(records).name == "r0.9"


def test_a_batch_record_is_a_summary_csv_row():
    row = BatchRecord("a.tif", "01_a", "ok", 24, 12, "torus", "lattice", 0.9, 2.0, 3.0)
    assert list(row) == [
        "image", "folder", "status", "window", "step", "position", "decoder",
        "physicality", "train_s", "seconds", "error",
    ]  # fmt: skip
    assert BatchRecord.from_dict({**row.as_dict(), "config": {}}) == row
