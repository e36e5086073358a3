"""Reading score CSVs: columns in any order, subjects, and one clear error per malformed file."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest

from bioverify.calibration import read_scores_csv
from bioverify.calibration.scores_csv import _CHUNK_ROWS
from bioverify.errors import InvalidInput


def _write(tmp_path: Path, text: str | bytes, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reads_scores_and_labels(tmp_path: Path) -> None:
    table = read_scores_csv(_write(tmp_path, "score,label\n0.5,1\n-1e-3,0\n2,1\n"))
    np.testing.assert_array_equal(table.scores, [0.5, -1e-3, 2.0])
    np.testing.assert_array_equal(table.labels, [True, False, True])
    assert table.scores.dtype == np.float64 and table.labels.dtype == np.bool_
    assert table.subject_a is None and table.subject_b is None
    assert table.n_rows == 3


def test_any_column_order_extra_columns_spaces_bom_crlf_quotes(tmp_path: Path) -> None:
    text = (
        '\ufeffnote, Label ,Subject_B,SCORE,subject_a\r\n"a, quoted note",0,bob,0.25,ann\r\n'
        "\r\n"  # a blank line is skipped
        'x, 1 ,ann, 0.75 ,"ann"\r\n'
    )
    table = read_scores_csv(_write(tmp_path, text))
    np.testing.assert_array_equal(table.scores, [0.25, 0.75])
    np.testing.assert_array_equal(table.labels, [False, True])
    assert table.subject_a is not None and table.subject_b is not None
    assert table.subject_a.tolist() == ["ann", "ann"]
    assert table.subject_b.tolist() == ["bob", "ann"]
    assert table.n_rows == 2


def test_matches_the_csv_module_across_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 2 * _CHUNK_ROWS + 17
    scores = rng.normal(size=n)
    labels = rng.integers(0, 2, n)
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "subject_a", "score", "subject_b"])
        for k in range(n):
            writer.writerow([labels[k], f"s{k % 97}", repr(float(scores[k])), f"s{k % 89}"])
    table = read_scores_csv(path)
    np.testing.assert_array_equal(table.scores, scores)
    np.testing.assert_array_equal(table.labels, labels == 1)
    assert table.subject_a is not None and table.subject_b is not None
    assert table.subject_a[-1] == f"s{(n - 1) % 97}"
    assert table.subject_b[-1] == f"s{(n - 1) % 89}"
    # one shared string object per subject, not one per row
    assert len({id(s) for s in table.subject_a}) == 97


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "the file is empty"),
        ("score,label\n", "header but no rows"),
        ("score,label\n\n\n", "header but no rows"),
        ("0.5,1\n0.2,0\n", "no 'score' or 'label' column"),
        ("score,lbl\n0.5,1\n", "no 'label' column"),
        ("score,label,score\n1,1,1\n", "names the column 'score' 2 times"),
        ("score,label,subject_a\n1,1,a\n", "both subject_a and subject_b"),
        ("score,label\n0.5,1\n0.3\n", r"row 3 has 1 field\(s\) but the header has 2"),
        ("score,label\n0.5,1\n0.3,0,9\n", "row 3 has 3 field"),
        ("score,label\n0.5,1\nabc,0\n", "row 3: score 'abc' is not a number"),
        ("score,label\n0.5,1\n,0\n", "row 3: score '' is not a number"),
        ("score,label\n0.5,1\n0.1,0\nnan,0\n1,1\ninf,0\n", r"2 score\(s\) are NaN or inf.*row 4"),
        ("score,label\n0.5,1\n\n-inf,0\n", r"1 score\(s\) .*first at row 4"),
        ("score,label\n0.5,1\n0.3,2\n", "row 3: label '2' is not 0 .impostor. or 1"),
        ("score,label\n0.5,1\n0.3,yes\n", "row 3: label 'yes'"),
        ("score,label\n0.5,1\n0.3,1.0\n", "row 3: label '1.0'"),
        ("score,label\n0.5,1\n0.3,1\n", "all 2 trials are genuine .label 1.; need impostor"),
        ("score,label\n0.5,0\n", "all 1 trials are impostor .label 0.; need genuine"),
        ("score,label,subject_a,subject_b\n0.5,1,a,a\n0.1,0, ,b\n", "row 3: subject_a is empty"),
        ('score,label\n"0.5,1\n', "row 2"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidInput, match=match) as info:
        read_scores_csv(path)
    message = str(info.value)
    assert message.startswith(f"scores file {path}")
    assert "\n" not in message


def test_bad_row_number_is_found_in_a_later_chunk(tmp_path: Path) -> None:
    rows = ["0.5,1", "0.1,0"] * _CHUNK_ROWS
    rows[_CHUNK_ROWS + 5] = "oops,1"
    path = _write(tmp_path, "score,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(InvalidInput, match=f"row {_CHUNK_ROWS + 7}: score 'oops'"):
        read_scores_csv(path)


def test_missing_file_folder_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        read_scores_csv(tmp_path / "none.csv")
    with pytest.raises(InvalidInput, match="cannot"):
        read_scores_csv(tmp_path)
    latin1 = "score,label,subject_a,subject_b\n0.5,1,Jos\u00e9,Jos\u00e9\n0.1,0,a,b\n"
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_scores_csv(_write(tmp_path, latin1.encode("latin-1")))


@pytest.mark.slow  # a timing test on a million rows
def test_one_million_rows_in_seconds(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=n), 6)
    labels = rng.integers(0, 2, n)
    path = tmp_path / "million.csv"
    body = "\n".join(
        f"{s},{label}" for s, label in zip(scores.tolist(), labels.tolist(), strict=True)
    )
    path.write_text("score,label\n" + body + "\n")
    start = time.perf_counter()
    table = read_scores_csv(path)
    elapsed = time.perf_counter() - start
    assert table.n_rows == n
    np.testing.assert_array_equal(table.scores, scores)
    assert elapsed < 15.0, f"{elapsed:.1f} s for 1M rows"
