"""Column positions found elsewhere, read from a CSV file, to centre the patches on.

Accepted: a header row naming the coordinates, then one column per row, in pixels of the
image: ``row,col`` (or ``row_px,col_px``, as ``columns.csv`` of a fit writes them), or
``x,y`` (x along the columns, y down the rows: Atomap's ``atom_positions`` and most
tools).  Where a ``sublattice`` column exists (``columns.csv``), only sublattice 0 (the
brightest) is read.  Other columns are ignored.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "atoms.csv"
>>> _ = path.write_text("x,y\\n10.5,20\\n30,40.25\\n50,60\\n70,80\\n")
>>> read_column_positions(path)[:2].tolist()
[[20.0, 10.5], [40.25, 30.0]]
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from shiftvae.errors import InputError

__all__ = ["coordinate_columns", "read_column_positions", "read_table"]

PAIRS = (("row_px", "col_px"), ("row", "col"), ("y", "x"))  # (row, col) names
MIN_POSITIONS = 4


def read_column_positions(path) -> np.ndarray:
    """(N, 2) (row, col) px of the columns listed in the CSV file ``path``.

    Raises
    ------
    InputError
        In one sentence: no such file, no header naming the coordinates, a value that is
        not a number, or fewer than four positions.
    """
    path = Path(path)
    header, rows = read_table(path, "column position")
    pair, r, c = coordinate_columns(path, header)
    site = header.index("sublattice") if "sublattice" in header else None
    positions = []
    for n, line in enumerate(rows, start=2):
        if not any(v.strip() for v in line):
            continue
        try:
            if site is not None and int(line[site]) != 0:
                continue
            positions.append((float(line[r]), float(line[c])))
        except (ValueError, IndexError):
            raise InputError(
                f"line {n} of {path} does not hold two numbers for {pair[0]},{pair[1]}"
            ) from None
    out = np.array(positions, dtype=np.float64).reshape(-1, 2)
    out = out[np.isfinite(out).all(1)]
    if len(out) < MIN_POSITIONS:
        raise InputError(
            f"{path} lists {len(out)} column position(s): at least {MIN_POSITIONS} are needed"
        )
    return out


def read_table(path: Path, what: str) -> tuple[list[str], list[list[str]]]:
    """The lower-case header and the data rows of the CSV file ``path`` (a file of ``what``),
    or one sentence on why it cannot be read."""
    if not path.is_file():
        raise InputError(f"no {what} file {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the {what}s in {path}: {exc}") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    return header, rows[1:]


def coordinate_columns(path: Path, header: list[str]) -> tuple[tuple[str, str], int, int]:
    """The names and indices of the (row, col) coordinates in ``header``, or one sentence."""
    pair = next((p for p in PAIRS if p[0] in header and p[1] in header), None)
    if pair is None:
        raise InputError(
            f"{path} names no coordinates: its first row must name them row,col (or "
            "row_px,col_px, or x,y), in pixels"
        )
    return pair, header.index(pair[0]), header.index(pair[1])
