"""``shiftvae fit``: checkpoints, Ctrl-C, divergence and ``--resume``.

A resumed run must give the same result, bit for bit on the CPU, as a run that was never
interrupted; the hidden ``.OUT.partial`` folder holding the checkpoint is kept only for that.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import shiftvae as sv
import shiftvae.model.train
from shiftvae.cli import main
from shiftvae.model.module import ShiftVAEModule

FAST = ["--window", "8", "--step", "4", "--phases", "none", "--device", "cpu", "--seed", "3"]
FAST += ["--no-figures"]  # the figures are tested elsewhere; here only training is resumed


@pytest.fixture
def small_npy(tmp_path):
    """A 32 x 32 lattice image: 49 patches of 8 x 8 px with FAST."""
    path = tmp_path / "lattice.npy"
    np.save(path, sv.synthetic.lattice_image(32, period=8.0, seed=2))
    return path


@pytest.fixture
def interrupt_at_checkpoint(monkeypatch):
    """Ctrl-C right after the n-th checkpoint is written (the train loop's own handler runs)."""

    def arm(n: int) -> None:
        real = shiftvae.model.train.save_checkpoint
        saved = []

        def saving(*args, **kwargs):
            real(*args, **kwargs)
            saved.append(args[4])  # the epoch
            if len(saved) == n:
                raise KeyboardInterrupt

        monkeypatch.setattr(shiftvae.model.train, "save_checkpoint", saving)

    return arm


def fit(image, out, *options):
    return main(["fit", str(image), "--out", str(out), *FAST, "-q", *options])


def stderr_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def assert_same_results(a: Path, b: Path) -> None:
    """Every array of results.h5 (timings aside) and every weight of model.pt are equal."""
    with h5py.File(a / "results.h5", "r") as fa, h5py.File(b / "results.h5", "r") as fb:
        names: list[str] = []
        fa.visititems(lambda name, obj: names.append(name) if hasattr(obj, "dtype") else None)
        assert "entry/encoding/z_mean" in names and "entry/history/loss" in names
        for name in names:
            if name != "entry/history/seconds":
                np.testing.assert_array_equal(fa[name][()], fb[name][()], err_msg=name)
        assert fa["entry"].attrs["metrics"] == fb["entry"].attrs["metrics"]
    wa = sv.load_model(a / "model.pt").module_.state_dict()
    wb = sv.load_model(b / "model.pt").module_.state_dict()
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_ctrl_c_keeps_a_checkpoint_and_resume_equals_an_uninterrupted_run(
    tmp_path, capsys, small_npy, interrupt_at_checkpoint
):
    out = tmp_path / "run"
    partial = tmp_path / ".run.partial"
    interrupt_at_checkpoint(2)
    assert fit(small_npy, out, "--epochs", "4", "--checkpoint-every", "1") == 130
    message = stderr_line(capsys)
    assert "interrupted; the checkpoint of epoch 2 of 4 is kept in" in message
    assert not out.exists() and (partial / "checkpoint.pt").is_file()
    command = message.split("continue from it with: ")[1]
    words = shlex.split(command)
    assert words[:2] == ["shiftvae", "fit"] and words[-1] == "--resume"

    # a plain rerun does not silently start over
    assert fit(small_npy, out, "--epochs", "4", "--checkpoint-every", "1") == 2
    assert "--resume, or start over with --overwrite" in stderr_line(capsys)
    assert (partial / "checkpoint.pt").is_file()

    # nor does a resume with other options, and the checkpoint survives the refusal
    assert fit(small_npy, out, "--epochs", "5", "--resume") == 2
    assert "started with epochs 4 (now 5)" in stderr_line(capsys)
    assert (partial / "checkpoint.pt").is_file()

    assert main([*words[1:], "-q"]) == 0  # the printed command, as a user pastes it
    assert not partial.exists() and not (out / "checkpoint.pt").exists()
    assert fit(small_npy, tmp_path / "whole", "--epochs", "4") == 0
    assert_same_results(out, tmp_path / "whole")
    assert len(sv.load_results(out).history["loss"]) == 4


def test_resume_of_a_finished_run_or_of_nothing(tmp_path, capsys, small_npy):
    out = tmp_path / "run"
    assert fit(small_npy, out, "--epochs", "1", "--resume") == 0  # nothing kept: a fresh run
    assert fit(small_npy, out, "--epochs", "1", "--resume") == 2
    assert "already complete: there is nothing to resume" in stderr_line(capsys)


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, capsys, small_npy, monkeypatch):
    real_loss = ShiftVAEModule.loss
    calls = []

    def exploding(self, x, beta, noise, **kwargs):  # 2 batches an epoch: NaN from the 3rd
        calls.append(1)
        out = real_loss(self, x, beta, noise, **kwargs)
        if len(calls) > 4:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(ShiftVAEModule, "loss", exploding)
    out = tmp_path / "run"
    options = ["--epochs", "4", "--checkpoint-every", "1", "--batch-size", "25", "--lr", "0.01"]
    assert fit(small_npy, out, *options) == 2
    message = stderr_line(capsys)
    assert "loss became nan at epoch 3 of 4 (learning rate 0.01, beta" in message
    assert "checkpoint of epoch 2 of 4 is kept" in message
    command = shlex.split(message.split("continue from it with: ")[1])
    assert command[command.index("--lr") + 1] == "0.0033" and command[-1] == "--resume"
    assert not out.exists()
    ckpt = tmp_path / ".run.partial" / "checkpoint.pt"
    state = shiftvae.model.train.load_checkpoint(ckpt)
    assert state["epoch"] == 2 and np.isfinite(state["history"]["loss"]).all()

    monkeypatch.setattr(ShiftVAEModule, "loss", real_loss)
    assert main([*command[1:], "-q"]) == 0  # continues from epoch 2 at the lower rate
    history = sv.load_results(out).history
    assert len(history["loss"]) == 4 and np.isfinite(history["loss"]).all()
    assert json.loads((out / "run.json").read_text())["config"]["lr"] == pytest.approx(0.0033)


def test_failure_before_training_leaves_nothing(tmp_path, capsys, small_npy):
    out = tmp_path / "run"
    assert fit(small_npy, out, "--epochs", "2", "--window", "40") == 2
    assert "smaller than the window" in stderr_line(capsys)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


# --- a real process, killed ---------------------------------------------------------------

# long enough that the signal lands mid-training: a dozen epochs of the lattice coder on
# these 121 patches took less time than the test needs to see the first checkpoint
KILL_EPOCHS = 300
SUBPROCESS_OPTIONS = [*FAST, "--epochs", str(KILL_EPOCHS), "--checkpoint-every", "1", "-q"]


def start_fit(image: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same threads in every process
    argv = [sys.executable, "-m", "shiftvae", "fit", str(image), "--out", str(out)]
    return subprocess.Popen(
        [*argv, *SUBPROCESS_OPTIONS, *extra],
        cwd=image.parent,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # a test run in the background inherits an ignored SIGINT, and Python then never
        # installs its Ctrl-C handler: the child must see the default, as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """(image, output folder) of a run that was never stopped."""
    folder = tmp_path_factory.mktemp("whole")
    image = folder / "lattice.npy"
    np.save(image, sv.synthetic.lattice_image(48, period=8.0, seed=2))
    proc = start_fit(image, folder / "whole")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    proc.stderr.close()
    return image, folder / "whole"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_fit_process_resumes_to_the_same_model(tmp_path, uninterrupted, sig):
    whole_image, whole = uninterrupted
    image = tmp_path / whole_image.name
    image.write_bytes(whole_image.read_bytes())
    out = tmp_path / "run"
    ckpt = tmp_path / ".run.partial" / "checkpoint.pt"
    proc = start_fit(image, out)
    deadline = time.monotonic() + 120
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ckpt.is_file(), "no checkpoint appeared"
    proc.send_signal(sig)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    assert not out.exists() and ckpt.is_file()
    assert shiftvae.model.train.load_checkpoint(ckpt)["epoch"] < KILL_EPOCHS  # stopped mid-training
    if sig == signal.SIGINT:
        assert "continue from it with: shiftvae fit" in err and "Traceback" not in err

    resumed = start_fit(image, out, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    resumed.stderr.close()
    assert not ckpt.parent.exists()
    assert_same_results(out, whole)
