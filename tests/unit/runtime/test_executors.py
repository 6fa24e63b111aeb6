"""The same step in worker processes and in-process gives the same bytes (Ray: tests/e2e/test_ray_executor.py)."""

from __future__ import annotations

import json

from support.corpus import stdlib_modules

from lintseq_assets.runtime.executors import LocalExecutor
from lintseq_assets.sampling.batch import ProgramInput, sample_many


def sampledsampled_rows(executor) -> list[str]:
    items = [ProgramInput(p.name, p.read_text(encoding="utf-8")) for p in stdlib_modules(lo=20, hi=200, limit=20)]
    items.append(ProgramInput("bad", "def broken(:"))
    out = []
    for result in sample_many(items, samples=2, seed=3, chunk_size=3, executor=executor):
        out.append(json.dumps([result.record_id, result.reject_reason, [s.edit_path for s in result.sequences]]))
    return out


def test_worker_processes_match_in_process():
    assert sampled_rows(LocalExecutor(workers=2)) == sampled_rows(LocalExecutor(workers=1))
