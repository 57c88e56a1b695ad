"""Known classes read from a CSV file (``fit --labels``)."""

from __future__ import annotations

import pytest

import shiftvae as sv
from shiftvae.io.labels import read_labels


def write(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_row_col_and_x_y_give_the_same_labels(tmp_path):
    a = read_labels(write(tmp_path, "row,col,class\n10,20,0\n30,40.5,2\n\n"), 3)
    b = read_labels(write(tmp_path, "x,y,class,note\n20,10,0,a\n40.5,30,2,b\n"), 3)
    for one, two in zip(a, b):
        assert one.tolist() == two.tolist()
    assert a[0].tolist() == [[10.0, 20.0], [30.0, 40.5]] and a[1].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("row,col,class\n10,20,3\n", "line 2 of .* has class 3: classes are 0 to 2"),
        ("row,col,class\n10,20,1.5\n", "has class 1.5"),
        ("row,col,class\n10,twenty,1\n", "line 2 of .* does not hold numbers"),
        ("row,col\n10,20\n", "has no 'class' column"),
        ("a,b,class\n10,20,1\n", "names no coordinates"),
        ("row,col,class\n", "lists no labels"),
    ],
)
def test_a_bad_label_file_is_refused_in_one_sentence(tmp_path, text, phrase):
    with pytest.raises(sv.InputError, match=phrase):
        read_labels(write(tmp_path, text), 3)


def test_a_missing_label_file_is_named(tmp_path):
    with pytest.raises(sv.InputError, match="no label file"):
        read_labels(tmp_path / "none.csv", 2)
