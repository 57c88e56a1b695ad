"""Exception types raised by shiftvae.

Every error the library raises on purpose derives from :class:`ShiftVAEError`, so callers
(and the command line) can tell "your input is wrong" apart from a bug.  The input errors
also derive from :class:`ValueError`, so ``except ValueError`` keeps working for users who
do not know our types.
"""

from __future__ import annotations

import errno


class ShiftVAEError(Exception):
    """Base class of every error shiftvae raises deliberately."""


class InputError(ShiftVAEError, ValueError):
    """The data or an option given to shiftvae cannot be used (the message says why)."""


class ReaderError(InputError):
    """An image file is missing, unreadable, truncated or of an unknown format."""


class MissingExtraError(ShiftVAEError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class TrainingDivergedError(ShiftVAEError, FloatingPointError):
    """The loss became NaN or infinite during training."""


class OutputError(ShiftVAEError, OSError):
    """Results could not be written (existing folder, not writable, disk full)."""


class SchedulerLostError(ShiftVAEError, ConnectionError):
    """The Dask scheduler went away during a sweep or batch; finished runs are kept."""


class DeviceMemoryError(ShiftVAEError, MemoryError):
    """The GPU ran out of memory; the message says which option to lower."""


def missing_extra(package: str, extra: str, what: str) -> MissingExtraError:
    """Build the error for an optional dependency that is not installed."""
    return MissingExtraError(
        f"{what} needs the optional package '{package}': "
        f"install it with  pip install 'shiftvae[{extra}]'"
    )


def write_error(exc: OSError, what: str) -> OutputError:
    """One sentence for a failed write of ``what`` (a full disk is said as such)."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the disk is full: could not write {what}; free some space first")
    if exc.errno in (errno.EFBIG, errno.EDQUOT):
        return OutputError(
            f"could not write {what}: the file size limit or the disk quota was reached "
            f"({exc.strerror}); free some space or raise the limit first"
        )
    return OutputError(f"could not write {what}: {exc.strerror or exc}")
