"""Open HDF5 files in a sacrificial process first, so a crash of libhdf5 never takes ours.

Some corrupt HDF5 files make the HDF5 C library itself crash (a segmentation fault reading a
variable-length string attribute whose heap entry is damaged, found by the fuzz benchmark).
Python cannot catch that: a notebook kernel or a sweep worker would die with it.  Before an
HDF5-based file (.h5, .hdf5, .hspy, .nxs, .emd) is read here, a helper process opens it and
touches what the readers touch: every object, every attribute, and the data of small
datasets.  If the helper dies from a signal, the file is refused with a ReaderError naming it;
if it survives, the file is read normally.

The helper is one long-lived process that probes file after file (a few milliseconds each,
after a start of about 0.3 s), started again after a crash.  A file is probed once per
process for a given size and modification time.  ``SHIFTVAE_HDF5_PROBE=0`` turns the probe
off (for files of known origin, when every millisecond counts).
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from shiftvae.errors import ReaderError

__all__ = ["HDF5_SUFFIXES", "describe_exit", "probe_hdf5"]

HDF5_SUFFIXES = (".h5", ".hdf5", ".hspy", ".nxs", ".emd")
PROBE_TIMEOUT_S = 60.0
SMALL_DATASET = 1 << 20  # bytes: datasets up to this size are read in full by the probe

_SERVER = (
    r"""
import sys
import h5py

def touch(obj):
    for key in obj.attrs:
        obj.attrs[key]
    if isinstance(obj, h5py.Dataset) and obj.size * obj.dtype.itemsize <= SMALL_DATASET:
        obj[()]

for line in sys.stdin:
    try:
        with h5py.File(line.rstrip("\n"), "r") as f:
            touch(f)
            f.visititems(lambda name, obj: touch(obj))
        print("ok", flush=True)
    except Exception as exc:
        print("error " + type(exc).__name__, flush=True)
"""
).replace("SMALL_DATASET", str(SMALL_DATASET))


class _Prober:
    """One helper process answering "ok" or "error ..." for each path written to it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.replies: queue.Queue[str | None] = queue.Queue()
        self.lock = threading.Lock()
        self.seen: set[tuple[str, int, int]] = set()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.replies = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.replies), daemon=True).start()

    @staticmethod
    def _read(proc: subprocess.Popen, replies: queue.Queue) -> None:
        for line in proc.stdout:
            replies.put(line.strip())
        replies.put(None)  # the helper is gone

    def close(self) -> int | None:
        """Stop the helper (if any) and close its pipes; its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe to a dead helper
                pass
        return code

    def probe(self, path: Path, timeout: float) -> None:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self.lock:
            if key in self.seen:
                return
            if self.proc is None or self.proc.poll() is not None:
                self.close()
                self._start()
            self.proc.stdin.write(f"{path.resolve()}\n")
            self.proc.stdin.flush()
            try:
                reply = self.replies.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise ReaderError(
                    f"{path} took more than {timeout:.0f} s to open as HDF5: refused as corrupt"
                ) from None
            if reply is None:  # the helper died on this file
                code = self.close()
                raise ReaderError(
                    f"{path} is a corrupt HDF5 file: the HDF5 library crashed opening it "
                    f"({describe_exit(code)}); it was opened in a separate process, so this one "
                    "is unharmed"
                )
            self.seen.add(key)  # "ok", or a Python error the reader will report itself


def describe_exit(code: int) -> str:
    """A process's exit status in words: the signal's name (SIGSEGV) or the exit code."""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


_PROBER = _Prober()
atexit.register(_PROBER.close)


def probe_hdf5(path: str | os.PathLike, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Refuse ``path`` with a ReaderError if opening it crashes libhdf5 (see the module)."""
    if os.environ.get("SHIFTVAE_HDF5_PROBE", "1") == "0":
        return
    _PROBER.probe(Path(path), timeout)
