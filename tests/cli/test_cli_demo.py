"""``shiftvae demo`` end to end (quick mode) and the command-line conventions."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import h5py
import pytest

from shiftvae.cli import main


@pytest.mark.slow
def test_demo_quick_writes_every_output(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "-q"]) == 0
    assert (out / "report.html").is_file() and (out / "run.json").is_file()
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "sine_shift_vs_mu.png" in pngs and "lattice_shift_vae_manifold.png" in pngs
    html = (out / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == len(pngs)  # every figure inline
    assert "cell_input" in html and "patch_store" in html  # and the crystal's explorer
    # nothing to fetch: opens offline (BokehJS's code names URLs it never loads here)
    assert not re.search(r"""<(script|link|img)[^>]*(src|href)=["']?https?:""", html)
    with h5py.File(out / "results.h5") as f:
        assert f["sine/shift_vae/shift_mean"].shape == (1000, 1)
        assert f["lattice/shift_vae/shift_mean"].shape == (400, 2)
    info = json.loads((out / "run.json").read_text())
    assert info["seed"] == 0 and "shift_vae" in info["metrics"]["sine"]
    assert not list(tmp_path.glob(".*partial"))


def test_existing_output_is_refused_without_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(out), "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert (out / "keep.txt").read_text() == "mine"


def test_usage_errors_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--seed", "abc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid int value" in err[0]


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "shiftvae", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stdout.startswith("shiftvae ")


@pytest.mark.parametrize(
    ("command", "said"),
    [("demo", "no results were written"), ("sweep", "finished runs were kept")],
)
def test_ctrl_c_exits_130_and_says_what_was_kept(monkeypatch, capsys, tmp_path, command, said):
    import importlib

    def interrupted(args):
        raise KeyboardInterrupt

    module = importlib.import_module(f"shiftvae.commands.{command}")
    monkeypatch.setattr(module, "main", interrupted)
    argv = [command, "--out", str(tmp_path / "out")] + (["img.npy"] if command == "sweep" else [])
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and said in err[0]
