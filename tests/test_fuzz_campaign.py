"""The CI tier of the fuzz campaign (``benchmarks/fuzz/``): a few hundred mutated real files
of every input kind through the public API in a watched worker process; every case must end
in a result or a typed error, without a crash, a hang over 10 s or 2 GB of memory."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from benchmarks.fuzz.campaign import FAILURES, markdown, run_campaign, summarise
from benchmarks.fuzz.mutate import STRUCTURED, mutate
from benchmarks.fuzz.seeds import KINDS, seeds

CASES_PER_KIND = 16


def test_mutations_are_reproducible_and_change_the_seed(tmp_path: Path) -> None:
    for kind in ("png", "jpeg", "tiff", "wav", "calibration", "scores_csv"):
        seed = seeds(kind, tmp_path)[0]
        first = [mutate(kind, seed, random.Random(f"{kind}:{k}")) for k in range(20)]
        again = [mutate(kind, seed, random.Random(f"{kind}:{k}")) for k in range(20)]
        assert first == again
        assert sum(m != seed for m in first) >= 18, kind
        # the structure-aware mutator alone changes the file too
        assert STRUCTURED[kind](seed, random.Random(1)) != seed


@pytest.mark.slow
def test_campaign_tier_gives_only_results_and_typed_errors(tmp_path: Path) -> None:
    run_campaign(
        list(KINDS),
        CASES_PER_KIND,
        tmp_path,
        timeout=10.0,
        max_rss_mb=2048.0,
        address_space_mb=8192.0,
    )
    summary = summarise(tmp_path, "pytest")
    assert summary["failures"] == [], json.dumps(summary["failures"][:5], indent=1)
    rows = summary["kinds"]
    assert set(rows) == set(KINDS)
    for kind, row in rows.items():
        assert row["cases"] == CASES_PER_KIND, kind
        assert row["ok"] + row["typed"] == CASES_PER_KIND, kind
        assert all(row[f] == 0 for f in FAILURES)
        assert row["max_seconds"] < 10.0 and row["peak_mb"] < 2048.0
    assert "| png | 16 |" in markdown(summary)
    # a rerun resumes: nothing left to do, nothing added
    run_campaign(["png"], CASES_PER_KIND, tmp_path, 10.0, 2048.0, 8192.0)
    assert summarise(tmp_path, "pytest")["kinds"]["png"]["cases"] == CASES_PER_KIND
