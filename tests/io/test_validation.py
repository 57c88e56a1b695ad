"""Every row of the rejected-input table (docs/validation.md), through the API and the CLI.

The API raises the library's own error with the message; ``shiftvae fit`` exits with code 2,
prints that one sentence on stderr (no traceback) and leaves no output folder behind.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image as PILImage

import shiftvae as sv
from shiftvae.cli import main
from shiftvae.errors import ShiftVAEError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
FAST = ["--phases", "none", "--device", "cpu"]
GRID = ["--window", "8", "--step", "4"]  # unless a case gives its own options
FAST_CONFIG = {"window": 8, "step": 4, "phases": None, "device": "cpu", "epochs": 1}


def lattice(size: int = 32) -> np.ndarray:
    return sv.synthetic.lattice_image(size, period=8.0, seed=2)


@dataclass
class Case:
    """One rejected input: how to make it, the API call, the CLI options, the messages."""

    make: Callable[[Path], Path]  # writes the input into a folder, returns the image path
    api: Callable[[Path], object]  # the API call on that path (must raise)
    match: str  # regex of the message (API and CLI)
    cli: list[str] = field(default_factory=lambda: list(GRID))  # `shiftvae fit` options
    cli_match: str | None = None  # when argparse words it differently
    patch: Callable[[pytest.MonkeyPatch, Path], None] | None = None  # simulated failures
    cli_keeps: tuple[str, ...] = ()  # what `shiftvae fit` keeps on purpose (for --resume)


def npy(data, name="image.npy"):
    def make(folder: Path) -> Path:
        np.save(folder / name, data)
        return folder / name

    return make


def raw(content: bytes, name: str):
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return make


def truncated(writer, name: str, keep: float = 0.4):
    def make(folder: Path) -> Path:
        path = folder / name
        writer(path, (lattice() * 1000).astype(np.uint16))
        path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
        return path

    return make


def write_h5(path: Path, data: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f["image"] = data


def write_png(path: Path, data: np.ndarray) -> None:
    PILImage.fromarray(data).save(path)


def read(path: Path, **kwargs):
    return sv.read_image(path, **kwargs)


def fit_with(**options):
    def api(path: Path):
        config = sv.FitConfig(**{**FAST_CONFIG, **options})
        return sv.fit_image(sv.read_image(path), config, progress=False)

    return api


def padded_lattice() -> np.ndarray:
    """A 16 x 16 lattice in the corner of a 48 x 48 frame of zeros (a padded scan)."""
    data = np.zeros((48, 48), np.float32)
    data[:16, :16] = lattice(16) + 0.1
    return data


def wrapped_uint32() -> np.ndarray:
    data = (lattice() * 1000).astype(np.int64)
    data[:3, :3] -= 2000  # a background subtraction that went below zero ...
    return data.astype(np.uint32)  # ... and wrapped around when stored unsigned


def locked(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The image cannot be read (as without read permission, even for root)."""
    real = os.access
    target = str(folder / "image.npy")
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: mode != os.R_OK if str(p) == target else real(p, mode)
    )


def read_only_parent(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The output's parent folder is not writable (as for another user, even for root)."""
    real = os.access
    target = folder.resolve()
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: mode != os.W_OK if Path(p).resolve() == target else real(p, mode),
    )


def rgb_tif(folder: Path) -> Path:
    rgb = (lattice()[..., None] * [255, 0, 99]).astype(np.uint8)
    tifffile.imwrite(folder / "colour.tif", rgb, photometric="rgb")
    return folder / "colour.tif"


def two_datasets(folder: Path) -> Path:
    with h5py.File(folder / "two.h5", "w") as f:
        f["image"] = lattice()
        f["other"] = lattice()
    return folder / "two.h5"


def disk_full_at(suffix: str):
    """torch.save fails with ENOSPC for files ending in ``suffix`` (the others are written)."""

    def patch(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
        real = torch.save

        def save(obj, f, *args, **kwargs):
            if str(f).endswith(suffix):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
            return real(obj, f, *args, **kwargs)

        monkeypatch.setattr(torch, "save", save)

    return patch


def save_to(out_name: str):
    """API for output rows: fit (1 epoch) then save_results into folder/out_name."""

    def api(path: Path):
        result = fit_with()(path)
        return sv.save_results(result, path.parent / out_name)

    return api


def existing(what: str):
    """A valid image, and something already at (or above) the output path."""

    def make(folder: Path) -> Path:
        np.save(folder / "image.npy", lattice())
        if what == "folder":
            (folder / "out").mkdir()
        elif what == "file":
            (folder / "out").write_text("notes")
        elif what == "parent-file":
            (folder / "parent").write_text("notes")
        elif what == "kept-run":
            (folder / ".out.partial").mkdir()
            (folder / ".out.partial" / "checkpoint.pt").write_bytes(b"state")
        return folder / "image.npy"

    return make


CASES: dict[str, Case] = {
    # --- the file ---------------------------------------------------------------------------
    "missing-file": Case(lambda d: d / "nope.tif", read, r"image file .*nope\.tif does not exist"),
    "folder-not-file": Case(lambda d: d, read, r"is a folder, not an image file"),
    "unreadable-file": Case(
        npy(lattice()), read, r"image\.npy cannot be read: permission denied", patch=locked
    ),
    "empty-file": Case(raw(b"", "image.tif"), read, r"image\.tif is an empty file \(0 bytes\)"),
    "truncated-tif": Case(
        truncated(tifffile.imwrite, "image.tif"),
        read,
        r"cannot read .*image\.tif as TIFF: the file may be corrupt or truncated",
    ),
    "truncated-hdf5": Case(
        truncated(write_h5, "image.h5"), read, r"cannot read .*image\.h5 as HDF5: .*corrupt"
    ),
    "truncated-npy": Case(
        truncated(np.save, "image.npy"), read, r"cannot read .*image\.npy as NumPy: .*truncated"
    ),
    "truncated-png": Case(
        truncated(write_png, "image.png", keep=0.2), read, r"cannot read .*image\.png as PNG"
    ),
    "corrupt-file": Case(
        raw(b"not an image at all " * 20, "image.dm3"),
        read,
        r"cannot read .*image\.dm3 as DigitalMicrograph: the file may be corrupt",
    ),
    "unknown-extension": Case(
        raw(b"1234", "image.xyz"), read, r"unknown image format '\.xyz'; supported: \.bmp"
    ),
    "no-extension": Case(raw(b"1234", "image"), read, r"has no file extension; supported:"),
    # --- the array in it ----------------------------------------------------------------------
    "not-numeric": Case(npy(np.array([["a", "b"]])), read, "does not hold numeric pixel values"),
    "complex-values": Case(npy(np.eye(8) * 1j), read, "holds complex values: take the modulus"),
    "one-dimensional": Case(npy(np.arange(10.0)), read, r"holds a 1D array of shape \(10,\)"),
    "single-number": Case(npy(np.float64(3)), read, "holds a single number"),
    "four-dimensional": Case(npy(np.zeros((2, 3, 4, 5))), read, r"4D array of shape"),
    "empty-array": Case(npy(np.zeros((0, 5))), read, r"empty image \(shape \(0, 5\)\)"),
    "rgb-tif": Case(
        rgb_tif,
        read,
        r"is an RGB colour image \(3 channels\); pick one with index= \(--index",
    ),
    "rgba-array": Case(
        npy(np.stack([lattice()] * 4, axis=-1)),
        read,
        r"is an RGBA colour image \(4 channels\); pick one with index=",
    ),
    "stack": Case(npy(np.stack([lattice()] * 5)), read, r"is a stack of 5 images of 32 x 32 px"),
    "index-out-of-range": Case(
        npy(np.stack([lattice()] * 5)),
        lambda p: read(p, index=9),
        r"index 9 is out of range",
        cli=["--index", "9"],
    ),
    "several-images": Case(
        two_datasets,
        read,
        r"holds 2 images \(/image 32x32, /other 32x32\); pick one with index=",
    ),
    "nan-or-inf": Case(
        npy(np.where(np.eye(32) > 0, np.nan, lattice())),
        read,
        r"has 32 NaN or infinite pixels out of 1024; replace them .* --fill-nan",
    ),
    "beyond-float32": Case(
        npy(lattice().astype(np.float64) * 1e300), read, r"beyond the float32 range"
    ),
    "uint32-overflow": Case(
        npy(wrapped_uint32()), read, r"9 of the 1024 pixels .*\(uint32\) are 2147483648 or more"
    ),
    "constant-image": Case(npy(np.full((32, 32), 7.0)), read, r"constant image \(every pixel is 7"),
    # --- the image and the patch grid -----------------------------------------------------------
    "smaller-than-window": Case(
        npy(lattice(12)),
        fit_with(window=16),
        r"12 x 12 px is smaller than the window of 16",
        cli=["--window", "16"],
    ),
    "one-patch-only": Case(
        npy(lattice()),
        fit_with(window=16, step=40),
        r"only 1 patch fits .* use a smaller window or step",
        cli=["--window", "16", "--step", "40"],
    ),
    "blank-patches": Case(
        npy(padded_lattice()),
        fit_with(),
        r"patches of the image \(\d+%\) have no contrast at all .* crop the image",
    ),
    "torus-without-lattice": Case(
        npy(np.random.default_rng(0).random((64, 64))),
        fit_with(window=None, position="torus"),
        r"position='torus' needs a lattice, and none was found .*--lattice",
        cli=["--position", "torus"],
    ),
    "lattice-larger-than-image": Case(
        npy(lattice()),
        fit_with(lattice=((0.0, 100.0), (100.0, 0.0))),
        r"lattice vector a1 = \(0, 100\) px is larger than the image",
        cli=["--lattice", "0,100;100,0"],
    ),
    # --- options --------------------------------------------------------------------------------
    "window-out-of-range": Case(
        npy(lattice()),
        fit_with(window=0),
        r"window must be None or a positive integer, got 0",
        cli=["--window", "0"],
        cli_match=r"argument --window: --window must be 'auto' or a positive integer, got '0'",
    ),
    "centers-unknown": Case(
        npy(lattice()),
        fit_with(centers="hexagons"),
        r"centers must be 'auto', 'grid', 'lattice' or 'atoms', got 'hexagons'",
        cli=["--centers", "hexagons"],
        cli_match=r"argument --centers: --centers must be 'auto', 'grid', 'lattice' or 'atoms', "
        r"got 'hexagons'",
    ),
    "lattice-malformed": Case(
        npy(lattice()),
        fit_with(lattice=((1.0, 2.0, 3.0),)),
        r"lattice must be 'auto', None or two \(row, col\) vectors in pixels",
        cli=["--lattice", "1,2,3"],
        cli_match=r"--lattice must be 'auto', 'none' or two vectors 'R1,C1;R2,C2' in px",
    ),
    "step-out-of-range": Case(
        npy(lattice()),
        fit_with(step=-4),
        r"step must be None or a positive integer, got -4",
        cli=["--step", "-4"],
        cli_match=r"argument --step: --step must be 'auto' or a positive integer, got '-4'",
    ),
    "latent-dim-out-of-range": Case(
        npy(lattice()),
        fit_with(latent_dim=0),
        r"latent_dim must be a positive integer, got 0",
        cli=["--latent-dim", "0"],
        cli_match=r"argument --latent-dim: --latent-dim must be a positive integer, got '0'",
    ),
    "shift-scale-out-of-range": Case(
        npy(lattice()),
        fit_with(shift_scale=1.5),
        r"shift_scale must be in \(0, 1\], got 1.5",
        cli=["--shift-scale", "1.5"],
        cli_match=r"--shift-scale must be in \(0, 1\], got '1.5'",
    ),
    "epochs-out-of-range": Case(
        npy(lattice()),
        fit_with(epochs=0),
        r"epochs must be 'auto' or a positive integer, got 0",
        cli=["--epochs", "0"],
        cli_match=r"argument --epochs: --epochs must be 'auto' or a positive integer, got '0'",
    ),
    "coord-frequency-out-of-range": Case(
        npy(lattice()),
        fit_with(coord_frequency=-2.0),
        r"coord_frequency must be 'auto', None or a positive number of cycles per patch side, "
        r"got -2.0",
        cli=["--coord-frequency", "-2"],
        cli_match=r"argument --coord-frequency: --coord-frequency must be 'auto', 'none' or a "
        r"positive number of cycles per patch side, got '-2'",
    ),
    "precision-unknown": Case(
        npy(lattice()),
        fit_with(precision="fp16"),
        r"precision must be 'fp32' or 'bf16', got 'fp16'",
        cli=["--precision", "fp16"],
        cli_match=r"argument --precision: --precision must be 'fp32' or 'bf16', got 'fp16'",
    ),
    "learning-rate-out-of-range": Case(
        npy(lattice()),
        fit_with(lr=-1.0),
        r"lr must be a positive number, got -1.0",
        cli=["--lr", "-1"],
        cli_match=r"--lr must be a positive number, got '-1'",
    ),
    "beta-out-of-range": Case(
        npy(lattice()),
        fit_with(beta_start=0.0),
        r"beta_start must be a positive number, got 0.0",
        cli=["--beta", "0:1"],
        cli_match=r"--beta needs two positive numbers START:END, got '0:1'",
    ),
    "binning-out-of-range": Case(
        npy(lattice()),
        fit_with(binning=0),
        r"binning must be 'auto' or a positive integer, got 0",
        cli=["--binning", "0"],
        cli_match=r"--binning must be 'auto' or a positive integer, got '0'",
    ),
    "phases-out-of-range": Case(
        npy(lattice()),
        fit_with(phases=0),
        r"phases must be 'auto', None or a positive integer, got 0",
        cli=["--phases", "0"],
        cli_match=r"--phases must be 'auto', 'none' or a positive integer, got '0'",
    ),
    "unknown-device": Case(
        npy(lattice()),
        fit_with(device="tpu"),
        r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'",
        cli=["--device", "tpu"],
        cli_match=r"argument --device: --device must be 'auto', 'cpu', 'cuda' or 'cuda:N', "
        r"got 'tpu'",
    ),
    # --- the output folder ----------------------------------------------------------------------
    "output-exists": Case(
        existing("folder"), save_to("out"), r"output folder .*out already exists; use --overwrite"
    ),
    "output-is-a-file": Case(
        existing("file"), save_to("out"), r"output path .*out exists and is not a folder"
    ),
    "output-parent-is-a-file": Case(
        existing("parent-file"),
        save_to("parent/out"),
        r"cannot write the output folder .*out: .*parent is not a folder",
        cli=[*GRID, "--out-name", "parent/out"],
    ),
    "output-not-writable": Case(
        existing("none"),
        save_to("out"),
        r"cannot write the output folder .*out: .* is not writable",
        patch=read_only_parent,
    ),
    "interrupted-run-kept": Case(
        existing("kept-run"),
        save_to("out"),
        r"an interrupted run of .*out is kept in .*\.out\.partial: continue it with --resume",
    ),
    "disk-full-writing-results": Case(
        existing("none"),
        save_to("out"),
        r"the disk is full: could not write the results into .*out; free some space",
        patch=disk_full_at("model.pt.part"),
        cli_keeps=(".out.partial",),  # training had finished: its checkpoint, for --resume
    ),
    "disk-full-writing-a-checkpoint": Case(
        existing("none"),
        lambda p: sv.fit_image(
            sv.read_image(p), sv.FitConfig(**FAST_CONFIG), False, p.parent / "ck.pt"
        ),
        r"the disk is full: could not write the checkpoint .*(checkpoint|ck)\.pt; free",
        patch=disk_full_at(".pt.part"),
    ),
}


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_through_the_api(name, tmp_path, monkeypatch):
    case = CASES[name]
    path = case.make(tmp_path)
    if case.patch is not None:
        case.patch(monkeypatch, tmp_path)
    with pytest.raises(ShiftVAEError) as exc:
        case.api(path)
    message = one_line(str(exc.value))
    assert re.search(case.match, message), message
    assert not (tmp_path / "out").is_dir() or name == "output-exists"
    assert not list(tmp_path.glob(".*.partial")) or name == "interrupted-run-kept"


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_by_the_command_line(name, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    path = case.make(tmp_path)
    if case.patch is not None:
        case.patch(monkeypatch, tmp_path)
    options = list(case.cli)
    out = tmp_path / "out"
    if "--out-name" in options:
        out = tmp_path / options.pop(options.index("--out-name") + 1)
        options.remove("--out-name")
    before = sorted(p.name for p in tmp_path.iterdir())
    # -q: rows found after training starts would otherwise follow its progress lines
    argv = ["fit", str(path), "--out", str(out), "--epochs", "1", "-q", *FAST, *options]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert re.search(case.cli_match or case.match, line), line
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == sorted([*before, *case.cli_keeps])  # nothing else left behind


def test_every_row_of_the_docs_table_is_tested():
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \|", DOCS.read_text(), flags=re.M))
    assert rows == set(CASES), rows ^ set(CASES)


def test_large_integers_keep_every_level_in_float32(tmp_path):
    base = np.uint32(3_000_000_000)  # float32 steps are 256 apart here
    data = base + (lattice() * 100).astype(np.uint32)
    np.save(tmp_path / "offset.npy", data)
    image = sv.read_image(tmp_path / "offset.npy")
    np.testing.assert_array_equal(image.data, (data - data.min()).astype(np.float32))


def test_a_minority_of_blank_patches_is_accepted_with_a_warning(caplog):
    from shiftvae.io.validate import check_patches

    patches = np.random.default_rng(0).random((10, 8, 8))
    patches[:4] = 0.0
    check_patches(patches)
    assert "4 of the 10 patches (40%) have no contrast" in caplog.text
    patches[4] = 0.0
    with pytest.raises(sv.InputError, match="5 of the 10 patches"):
        check_patches(patches)
