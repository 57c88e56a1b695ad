"""Fuzz the readers: truncated and bit-flipped files end in an image or a ReaderError.

The harness is ``benchmarks/fuzz_readers.py`` (which runs 2000+ cases); here a few hundred
run in a worker process with a timeout per case, so a hang or a crash of the interpreter
fails the test instead of stopping the suite.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import shared_file
from shiftvae.io.readers import read_image

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_readers.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_readers", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_readers"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["fuzz_readers"]


def run(fuzz, sources, n, seed):
    cases = fuzz.make_cases(sources, n, seed)
    results = fuzz.run_cases(sources, cases, timeout=30.0)
    summary = fuzz.summarise(cases, results)
    assert summary["cases"] == n
    assert summary["failures"] == 0, summary["failing_cases"]
    return summary


def test_corrupted_generated_files(tmp_path, fuzz):
    sources = fuzz.write_sources(tmp_path, dm3=None)
    assert sorted(sources) == ["h5", "npy", "png", "tif"]
    summary = run(fuzz, sources, 384, seed=11)
    assert summary["outcomes"].get("ReaderError", 0) > 190  # most corruptions are caught
    for counts in summary["by_source_and_kind"].values():
        assert sum(counts.values()) == 24


@pytest.mark.shared_data
def test_corrupted_copies_of_the_real_dm3(tmp_path, fuzz):
    dm3 = shared_file("mos2_se_implanted_adf.dm3")
    sources = fuzz.write_sources(tmp_path, dm3=dm3)
    run(fuzz, {"dm3": sources["dm3"]}, 120, seed=12)


@pytest.mark.shared_data
def test_dm3_structs_with_a_corrupt_field_count_are_errors_not_hangs(tmp_path, fuzz):
    """Cases an earlier fuzz run found: rosettasciio looped for hours on each (see io.py)."""
    dm3 = shared_file("mos2_se_implanted_adf.dm3")
    found = [("flip", 4184057839), ("flip+truncate", 3757257547), ("flip+truncate", 1490581366)]
    cases = [
        {"id": i, "source": "dm3", "kind": kind, "seed": seed}
        for i, (kind, seed) in enumerate(found)
    ]
    results = fuzz.run_cases({"dm3": dm3}, cases, timeout=15.0)
    for outcome, detail in results.values():
        assert outcome == "ReaderError" and "corrupt tag: a struct with" in detail, detail
    assert read_image(dm3).data.shape == (1024, 1024)  # the guard leaves valid files alone


def test_corruption_is_deterministic_and_changes_the_file(fuzz):
    content = bytes(range(256)) * 40
    for kind in fuzz.KINDS:
        a, b = (fuzz.corrupt(content, kind, 7) for _ in range(2))
        assert a == b and a != content
    assert len(fuzz.corrupt(content, "truncate", 7)) < len(content)
