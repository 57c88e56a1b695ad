"""Known classes (``fit --labels``) or values (``fit --values``) of a few places in the
image, read from a CSV file.

A header row names the coordinates, as for column positions (``row,col``, ``row_px,col_px``
or ``x,y``, in pixels of the image).  A labels file adds ``class``: an integer from 0 to
K - 1; its other columns are ignored.  A values file gives one column per property, named
in the header (``thickness_nm``): each is a number, or blank where that property was not
measured.  Blank lines are skipped.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
>>> _ = path.write_text("row,col,class\\n10,20,0\\n30,40.5,2\\n")
>>> points, classes = read_labels(path, 3)
>>> points.tolist(), classes.tolist()
([[10.0, 20.0], [30.0, 40.5]], [0, 2])
>>> _ = path.write_text("x,y,thickness\\n20,10,12.5\\n40.5,30,\\n")
>>> points, values, names = read_values(path)
>>> names, values[:, 0].tolist()
(('thickness',), [12.5, nan])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shiftvae.errors import InputError
from shiftvae.io.column_positions import coordinate_columns, read_table

__all__ = ["read_labels", "read_values"]


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


def read_values(path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(N, 2) (row, col) px, (N, P) values (NaN: blank) and the P property names of the
    values CSV file ``path``: every column but the coordinates is a property.

    Raises
    ------
    InputError
        In one sentence: no such file, no header naming the coordinates, no property
        column, a value that is neither a number nor blank, or no value at all.
    """
    path = Path(path)
    header, rows = read_table(path, "value")
    pair, r, c = coordinate_columns(path, header)
    props = [i for i, name in enumerate(header) if i not in (r, c)]
    if not props:
        raise InputError(
            f"{path} names no property: after {pair[0]},{pair[1]} its first row must name "
            "each measured value (one column per property)"
        )
    names = tuple(header[i] or f"value{n + 1}" for n, i in enumerate(props))
    points, values = [], []
    for n, line in enumerate(rows, start=2):
        if not any(v.strip() for v in line):
            continue
        try:
            points.append((float(line[r]), float(line[c])))
        except (ValueError, IndexError):
            raise InputError(
                f"line {n} of {path} does not hold numbers for {pair[0]},{pair[1]}"
            ) from None
        if not all(np.isfinite(points[-1])):
            raise InputError(f"line {n} of {path} has a position that is not a number")
        row = []
        for i, name in zip(props, names):
            text = line[i].strip() if i < len(line) else ""
            try:
                row.append(float(text) if text else np.nan)
            except ValueError:
                raise InputError(
                    f"line {n} of {path} has {name} {text!r}: a number, or blank if unknown"
                ) from None
            if np.isinf(row[-1]):
                raise InputError(f"line {n} of {path} has {name} {text!r}: not a finite number")
        values.append(row)
    arr = np.asarray(values, dtype=np.float64).reshape(-1, len(props))
    for p, name in enumerate(names):
        if not np.isfinite(arr[:, p]).any():
            raise InputError(f"{path} gives no value of {name}: at least one is needed")
    return np.asarray(points, dtype=np.float64).reshape(-1, 2), arr, names
