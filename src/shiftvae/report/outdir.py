"""Output folders that appear whole or not at all.

Results are written into a temporary sibling folder (``.NAME.partial``) and moved into place
only when everything has been written, so an interrupted or failed run never leaves a
half-written ``NAME``.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shiftvae.errors import OutputError

log = logging.getLogger(__name__)


def partial_path(path: str | Path) -> Path:
    """The temporary folder used while ``path`` is being written."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def check_output_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse an existing folder (unless ``overwrite``) or an unwritable parent, up front."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"output folder {path} already exists; use --overwrite to replace it")
    if path.exists() and not path.is_dir():
        raise OutputError(f"output path {path} exists and is not a folder")
    parent = path.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise OutputError(f"cannot write the output folder {path}: {probe} is not writable")
    return path


@contextmanager
def atomic_output_dir(
    path: str | Path, overwrite: bool = False, keep_partial: bool = False
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block succeeds.

    On any error (Ctrl-C included) the temporary folder is removed, unless ``keep_partial``
    is true (used to keep checkpoints for ``--resume``), and ``path`` is left untouched.
    """
    path = check_output_dir(path, overwrite)
    tmp = partial_path(path)
    try:
        path.resolve().parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(exist_ok=keep_partial)
    except FileExistsError:
        shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {path}: {exc.strerror}") from exc
    try:
        yield tmp
    except BaseException:
        if not keep_partial:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot move the results into {path}: {exc.strerror}") from exc


def describe_os_error(exc: OSError, path: Path) -> OutputError:
    """Turn a low-level write error into one sentence for the user."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk is full: could not write the results into {path}")
    return OutputError(f"could not write the results into {path}: {exc.strerror or exc}")
