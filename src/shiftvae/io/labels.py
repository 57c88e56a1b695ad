"""Known classes of a few places in the image, read from a CSV file (``fit --labels``).

A header row names the coordinates, as for column positions (``row,col``, ``row_px,col_px``
or ``x,y``, in pixels of the image), and ``class``: an integer from 0 to K - 1.  Other columns
are ignored; blank lines are skipped.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
>>> _ = path.write_text("row,col,class\\n10,20,0\\n30,40.5,2\\n")
>>> points, classes = read_labels(path, 3)
>>> points.tolist(), classes.tolist()
([[10.0, 20.0], [30.0, 40.5]], [0, 2])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shiftvae.errors import InputError
from shiftvae.io.column_positions import coordinate_columns, read_table

__all__ = ["read_labels"]


def read_labels(path, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) (row, col) px and (N,) classes of the labels in the CSV file ``path``, for a
    model of ``classes`` classes.

    Raises
    ------
    InputError
        In one sentence: no such file, no header naming the coordinates and the class, a
        value that is not a number, a class outside 0 to K - 1, or no label at all.
    """
    path = Path(path)
    header, rows = read_table(path, "label")
    pair, r, c = coordinate_columns(path, header)
    if "class" not in header:
        raise InputError(f"{path} has no 'class' column: its first row must name it")
    k = header.index("class")
    points, given = [], []
    for n, line in enumerate(rows, start=2):
        if not any(v.strip() for v in line):
            continue
        try:
            point = (float(line[r]), float(line[c]))
            label = float(line[k])
        except (ValueError, IndexError):
            raise InputError(
                f"line {n} of {path} does not hold numbers for {pair[0]},{pair[1]},class"
            ) from None
        if not all(np.isfinite(point)):
            raise InputError(f"line {n} of {path} has a position that is not a number")
        if label != int(label) or not 0 <= label < classes:
            raise InputError(
                f"line {n} of {path} has class {line[k].strip()}: classes are 0 to {classes - 1}"
            )
        points.append(point)
        given.append(int(label))
    if not points:
        raise InputError(f"{path} lists no labels: at least one row (row, col, class) is needed")
    return np.asarray(points, dtype=np.float64), np.asarray(given, dtype=np.int64)
