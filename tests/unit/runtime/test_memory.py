"""`release_unused_memory` hands freed Arrow buffers back to the system, and the graph's jobs
call it after every step."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lintseq_assets.platform.jobs import STEP_HOOKS, build_downstream_job, build_source_job
from lintseq_assets.runtime.memory import release_unused_memory, resident_bytes

MB = 2**20


def test_freed_arrow_buffers_go_back_to_the_system():
    release_unused_memory()
    base = resident_bytes()
    values = pa.array(np.arange(20_000_000, dtype=np.int64))
    pieces = [pc.multiply(values, k) for k in range(1, 4)]  # 480 MB through Arrow's pool
    assert resident_bytes() - base > 300 * MB
    del values, pieces
    kept = resident_bytes() - base
    freed = release_unused_memory()
    assert resident_bytes() - base < 60 * MB, f"still {(resident_bytes() - base) / MB:.0f} MB above the start"
    assert freed >= kept - 60 * MB


def test_the_graph_jobs_release_memory_after_every_step():
    for job in (build_source_job(), build_downstream_job()):
        assert STEP_HOOKS <= set(job.hooks), job.name
