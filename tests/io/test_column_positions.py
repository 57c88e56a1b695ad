"""Column positions from a CSV file: the formats read, and one sentence for a bad file."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.errors import InputError
from shiftvae.io.column_positions import read_column_positions


def write(tmp_path, text: str):
    path = tmp_path / "columns.csv"
    path.write_text(text)
    return path


def test_x_y_are_read_as_row_col(tmp_path):
    path = write(tmp_path, "X, Y\n1,2\n3,4\n5,6\n7,8\n\n")
    np.testing.assert_array_equal(read_column_positions(path), [[2, 1], [4, 3], [6, 5], [8, 7]])


def test_a_fits_columns_csv_gives_its_sublattice_0(tmp_path):
    lines = ["cell_i,cell_j,sublattice,row_px,col_px,row_std_px"]
    lines += [f"0,{k},{k % 2},{10 * k}.5,{k},0.1" for k in range(10)]
    found = read_column_positions(write(tmp_path, "\n".join(lines)))
    np.testing.assert_array_equal(found[:, 1], [0, 2, 4, 6, 8])
    assert found[0, 0] == 0.5


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a,b\n1,2\n", "names no coordinates"),
        ("row,col\n1,2\n3,x\n", "line 3"),
        ("row,col\n1,2\n3,4\n", "at least 4"),
        ("", "names no coordinates"),
    ],
)
def test_a_bad_file_is_refused_in_one_sentence(tmp_path, text, says):
    with pytest.raises(InputError, match=says) as info:
        read_column_positions(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no column position file"):
        read_column_positions(tmp_path / "absent.csv")
