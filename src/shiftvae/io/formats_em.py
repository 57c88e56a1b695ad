"""Electron-microscopy formats (dm3, dm4, emd, ser, mrc) through rosettasciio."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import ReaderError, missing_extra
from shiftvae.io.registry import (
    Index,
    _pick,
    _Raw,
    _reader,
    _to_nm,
    _two_axes,
)

# --- electron microscopy formats through rosettasciio ---------------------------------------

_RSCIIO_PLUGIN = {
    ".dm3": "digitalmicrograph",
    ".dm4": "digitalmicrograph",
    ".emd": "emd",
    ".ser": "tia",
    ".mrc": "mrc",
}


@_reader("DigitalMicrograph", ".dm3", ".dm4")
@_reader("EMD", ".emd")
@_reader("TIA", ".ser")
@_reader("MRC", ".mrc")
def _read_rsciio(path: Path, index: Index) -> _Raw:
    suffix = path.suffix.lower()
    try:
        plugin = importlib.import_module(f"rsciio.{_RSCIIO_PLUGIN[suffix]}")
    except ImportError as exc:
        raise missing_extra("rosettasciio", "stem", f"reading {suffix} files") from exc
    if suffix in (".dm3", ".dm4"):
        _guard_dm_structs(importlib.import_module("rsciio.digitalmicrograph._api"))
    signals = [s for s in plugin.file_reader(str(path)) if np.ndim(s["data"]) >= 2]
    if not signals:
        raise ReaderError(f"{path} holds no image (only spectra or other 1D signals)")
    titles = [
        str(s.get("metadata", {}).get("General", {}).get("title") or f"signal {k}")
        for k, s in enumerate(signals)
    ]
    i, used = _pick(titles, [np.shape(s["data"]) for s in signals], index, path)
    axes = sorted(signals[i]["axes"], key=lambda a: a.get("index_in_array", 0))
    cal = [_to_nm(a.get("scale", 1.0), a.get("units", "")) for a in axes[-1:-3:-1]]
    raw = _two_axes(cal[0], cal[-1])
    raw.data, raw.index_used = np.asarray(signals[i]["data"]), used
    raw.metadata["title"] = titles[i]
    return raw


_DM_MAX_STRUCT_FIELDS = 4096  # real DigitalMicrograph structs have a handful of fields


def _guard_dm_structs(api: Any) -> None:
    """Make rosettasciio refuse corrupt DM struct definitions instead of hanging on them.

    rosettasciio (0.15) reads a struct's field count from the file and builds the struct's
    definition one tuple concatenation at a time: one flipped bit in that count makes it
    ~10^9 and the read run for hours (found by benchmarks/fuzz_readers.py).  The
    replacement reads the same bytes in the same order and returns the same definition,
    but refuses a count that no real file has.  Installed once, on the reader class; valid
    files read exactly as before.  Nothing is done if rosettasciio's internals differ.
    """
    cls = getattr(api, "DigitalMicrographReader", None)
    original = getattr(cls, "parse_struct_definition", None)
    if original is None or getattr(original, "shiftvae_guard", False):
        return
    if not hasattr(cls, "read_l_or_q"):
        return

    def parse_struct_definition(self: Any) -> tuple[int, ...]:
        read = self.read_l_or_q
        read(self.f, "big")  # the length of the struct's name
        n_fields = read(self.f, "big")
        if not 0 <= n_fields <= _DM_MAX_STRUCT_FIELDS:
            raise OSError(f"corrupt tag: a struct with {n_fields} fields")
        fields = []
        for _ in range(n_fields):
            read(self.f, "big")  # the length of the field's name
            fields.append(read(self.f, "big"))  # its encoded type
        return tuple(fields)

    parse_struct_definition.shiftvae_guard = True  # type: ignore[attr-defined]
    parse_struct_definition.__doc__ = original.__doc__
    cls.parse_struct_definition = parse_struct_definition
