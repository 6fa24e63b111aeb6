"""The unbiased pass@k estimator (Chen et al., 2021) against its closed form and hand-checked values."""

from __future__ import annotations

import math

import pytest

from lintseq_assets.evaluation.passk import default_ks, pass_at_k, pass_at_k_table


def closed_form(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),  # pass@1 is the pass rate
        (10, 3, 5, 1 - 21 / 252),  # C(7,5)=21, C(10,5)=252
        (10, 3, 10, 1.0),
        (5, 0, 1, 0.0),
        (5, 5, 3, 1.0),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (20, 2, 10, 1 - 45 / 190),  # 1 - C(18,10)/C(20,10) = 1 - 43758/184756 = 1 - 45/190
        (2, 1, 2, 1.0),
    ],
)
def test_hand_checked(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_closed_form_on_a_grid():
    for n in range(1, 41):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(closed_form(n, c, k), abs=1e-9), (n, c, k)


def test_refuses_impossible_arguments():
    for n, c, k in ((3, 4, 1), (3, 1, 4), (3, 1, 0)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


def test_table_is_the_mean_over_tasks_up_to_the_smallest_n():
    table = pass_at_k_table({"a": (10, 3), "b": (10, 0), "c": (10, 10)})
    assert list(table) == [1, 5, 10]
    assert table[1] == pytest.approx((0.3 + 0 + 1) / 3)
    assert table[5] == pytest.approx(((1 - 21 / 252) + 0 + 1) / 3)
    assert list(pass_at_k_table({"a": (3, 1), "b": (7, 2)})) == [1, 3]
    assert default_ks(1) == [1] and default_ks(12) == [1, 5, 10, 12] and default_ks(0) == []


def test_the_evaluation_package_is_a_library_layer():
    """Like core/: importing and using it never pulls in Dagster or DuckDB (fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lintseq_assets.evaluation import decode, evaluate, humaneval_problems, pass_at_k\n"
        "from lintseq_assets.evaluation.report import summary_text\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'duckdb', 'dagster_duckdb')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
