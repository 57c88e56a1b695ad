"""The tutorial notebook runs top to bottom, as stored (without outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

from conftest import SHARED_DATA

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "tutorial.ipynb"


def test_the_tutorial_is_stored_without_outputs():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_the_tutorial_runs(tmp_path, monkeypatch):
    """Every code cell, in order, in one namespace (what a kernel does), in a fresh folder."""
    if not (SHARED_DATA / "perovskite_adf_atomap.hdf5").is_file():
        pytest.skip("the tutorial reads ../shared/data, absent in this clone")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    work = tmp_path / "shared" / "examples"  # the notebook finds shared/data upward
    work.mkdir(parents=True)
    (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    monkeypatch.chdir(work)
    namespace: dict = {"__name__": "__main__"}
    for i, cell in enumerate(json.loads(NOTEBOOK.read_text())["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"tutorial cell {i}", "exec"), namespace)
            plt.close("all")
    assert (work / "tutorial_run" / "results.h5").is_file()
    assert namespace["loaded"].maps.z.shape == namespace["result"].maps.z.shape
