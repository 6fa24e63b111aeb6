"""pass@k with the unbiased estimator of Chen et al. (2021), "Evaluating Large Language
Models Trained on Code", as the paper reports it.

For a task with n generations of which c pass, pass@k = 1 - C(n-c, k) / C(n, k): the chance
that at least one of k generations drawn without replacement passes. Estimating it from n >= k
samples has lower variance than drawing k and checking. The benchmark score is the mean over
tasks. The product form below is the paper's numerically stable way to compute the ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one task with n generations, c of them correct (k <= n)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def default_ks(n: int) -> list[int]:
    """k = 1, 5, 10, 15, ... up to n, and n itself (the paper's grid, cut at the samples we have)."""
    if n < 1:
        return []
    ks = [1] + list(range(5, n + 1, 5))
    if ks[-1] != n:
        ks.append(n)
    return ks


def pass_at_k_table(counts: Mapping[str, tuple[int, int]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Mean pass@k over tasks from {task_id: (n, c)}, for each k up to the smallest n."""
    if not counts:
        return {}
    smallest = min(n for n, _ in counts.values())
    ks = default_ks(smallest) if ks is None else [k for k in ks if 1 <= k <= smallest]
    return {k: sum(pass_at_k(n, c, k) for n, c in counts.values()) / len(counts) for k in ks}
