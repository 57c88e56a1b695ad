"""Output folders that appear whole or not at all.

Results are written into a temporary sibling folder (``.NAME.partial``) and moved into place
only when everything has been written, so an interrupted or failed run never leaves a
half-written ``NAME``.  The one exception is deliberate: ``shiftvae fit`` keeps
``.NAME.partial`` when training was interrupted (Ctrl-C) or diverged after a checkpoint
(``checkpoint.pt``) was written, so that ``--resume`` can continue from it.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shiftvae.errors import OutputError, write_error

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"  # training state of an unfinished run, in .NAME.partial
CHECKPOINT_INFO = "checkpoint.json"  # the image and options that run was started with


def write_csv_atomic(path: str | Path, fields: Sequence[str], rows: Iterable[dict[str, Any]]):
    """``rows`` as CSV with the columns ``fields`` (other keys ignored), written beside
    ``path`` and renamed in: a reader never sees half a table."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def partial_path(path: str | Path) -> Path:
    """The temporary folder used while ``path`` is being written."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def kept_checkpoint(path: str | Path) -> Path | None:
    """The checkpoint an interrupted run of ``path`` left for ``--resume``, if any."""
    ckpt = partial_path(path) / CHECKPOINT_NAME
    return ckpt if ckpt.is_file() else None


def check_output_dir(path: str | Path, overwrite: bool = False, resume: bool = False) -> Path:
    """Refuse what cannot become the output folder ``path``, before any work is done.

    An existing folder is refused unless ``overwrite``; with ``resume`` it must not be
    finished already (unless ``overwrite``).  A kept interrupted run is refused unless it is
    resumed or overwritten.  The nearest existing parent must be a writable folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output path {path} exists and is not a folder")
    if path.exists() and resume and not overwrite:
        raise OutputError(
            f"output folder {path} is already complete: there is nothing to resume; use "
            "--overwrite to train it again"
        )
    if path.exists() and not overwrite:
        raise OutputError(f"output folder {path} already exists; use --overwrite to replace it")
    ckpt = kept_checkpoint(path)
    if ckpt is not None and not (resume or overwrite):
        raise OutputError(
            f"an interrupted run of {path} is kept in {ckpt.parent}: continue it with "
            "--resume, or start over with --overwrite"
        )
    probe = path.resolve().parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write the output folder {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK):
        raise OutputError(f"cannot write the output folder {path}: {probe} is not writable")
    return path


@contextmanager
def atomic_output_dir(
    path: str | Path,
    overwrite: bool = False,
    resume: bool = False,
    keep_if: Callable[[Path, BaseException], bool] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path : path
        The output folder.
    overwrite : bool
        Replace an existing ``path`` (at the end, when everything is written).
    resume : bool
        Reuse the temporary folder of an interrupted run with a kept checkpoint (its other
        contents are removed) instead of starting from an empty one.
    keep_if : callable (folder, exception) -> bool, optional
        Called when the block fails; the temporary folder is kept when it returns True (fit:
        interrupted or diverged with a checkpoint inside).  Otherwise it is removed and
        ``path`` is left untouched.
    """
    path = check_output_dir(path, overwrite, resume)
    tmp = partial_path(path)
    try:
        path.resolve().parent.mkdir(parents=True, exist_ok=True)
        if resume and kept_checkpoint(path) is not None:
            log.info("resuming the interrupted run kept in %s", tmp)
            _clear(tmp, keep=(CHECKPOINT_NAME, CHECKPOINT_INFO))
        else:
            if tmp.exists():  # left by a run killed before its first checkpoint
                shutil.rmtree(tmp)
            tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {path}: {exc.strerror}") from exc
    try:
        yield tmp
    except BaseException as exc:
        if keep_if is None or not keep_if(tmp, exc):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot move the results into {path}: {exc.strerror}") from exc


def _clear(folder: Path, keep: tuple[str, ...]) -> None:
    """Remove everything in ``folder`` but the entries named in ``keep``."""
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def describe_os_error(exc: OSError, path: Path) -> OutputError:
    """Turn a low-level write error into one sentence for the user.

    ``path`` may be the hidden ``.NAME.partial`` folder: the message names ``NAME``.
    """
    path = Path(path)
    name = path.name
    if name.startswith(".") and name.endswith(".partial"):
        path = path.with_name(name[1 : -len(".partial")])
    return write_error(exc, f"the results into {path}")
