"""Workers that stage their own shards write the same rows the driver would (issue 15).

Real standard-library modules (and a broken program and a changed one) are sampled by two
worker processes that PUT their shards through fsspec; the driver only adopts them in order
and seals. The rows equal the driver-staged ones, byte for byte, and a set is only loadable
once sealed.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from support.corpus import stdlib_modules

from lintseq_assets.core import SamplerConfig
from lintseq_assets.runtime.executors import LocalExecutor
from lintseq_assets.runtime.staging import MANIFEST, RemoteShardWriter, StagingError
from lintseq_assets.sampling.batch import ProgramInput, sample_many
from lintseq_assets.sampling.plan import ProgramRow
from lintseq_assets.sampling.worker_staging import (
    SEQUENCE_SCHEMA,
    is_staged,
    numbered_chunks,
    sample_and_stage,
    sequence_rows,
)

CONFIG = SamplerConfig()


def _origins() -> list[ProgramRow]:
    rows = []
    for k, path in enumerate(stdlib_modules(lo=20, hi=200, limit=9)):
        text = path.read_text(encoding="utf-8")
        (result,) = sample_many([ProgramInput(path.name, text)], config=CONFIG, samples=1, seed=0)
        rows.append(ProgramRow(result.program_id, path.name, "stdlib", "r1", k, text))
    rows.insert(3, ProgramRow("p-bad", "bad", "stdlib", "r1", 100, "def broken(:"))  # rejected by the engine
    rows.insert(4, ProgramRow("p-other", "changed", "stdlib", "r1", 101, rows[0].program))  # curation's id differs
    return rows


def _driver_rows(origins: list[ProgramRow]) -> pl.DataFrame:
    results = sample_many([ProgramInput(o.record_id, o.program) for o in origins], config=CONFIG, samples=2, seed=7)
    rows = [row for result, origin in zip(results, origins, strict=True) if is_staged(result, origin) for row in sequence_rows(result, origin)]
    return pl.DataFrame(rows, schema=SEQUENCE_SCHEMA)


def test_worker_staged_shards_hold_the_driver_rows(tmp_path):
    origins = _origins()
    (tmp_path / "edit_sequences" / "cfg").mkdir(parents=True)  # a bucket needs no folders; a file:// root does
    writer = RemoteShardWriter(f"file://{tmp_path}", "edit_sequences", "cfg")
    outcomes = []
    for staged in LocalExecutor(workers=2).map_ordered(sample_and_stage, numbered_chunks(origins, 3), writer.folder, CONFIG, 2, 7):
        outcomes += [(r.record_id, r.reject_reason, sum(n)) for r, n in zip(staged.results, staged.n_edits, strict=True)]
        assert all(not r.sequences and r.program is None for r in staged.results), "no edit path or text goes back to the driver"
        if staged.shard is not None:
            writer.adopt(staged.shard, staged.rows)
    folder = writer.folder.removeprefix("file://")
    assert not (tmp_path / "edit_sequences" / "cfg" / MANIFEST).exists(), "not loadable before the driver seals"
    sealed = writer.seal()
    manifest = json.loads((tmp_path / "edit_sequences" / "cfg" / MANIFEST).read_text())
    assert [entry["file"] for entry in manifest["shards"]] == [s.rsplit("/", 1)[-1] for s in sealed.shards]
    staged_rows = pl.concat([pl.read_parquet(f"{folder}/{entry['file']}") for entry in manifest["shards"]])
    expected = _driver_rows(origins)
    assert staged_rows.height == sealed.rows == expected.height > 0
    assert staged_rows.equals(expected)
    assert [o[0] for o in outcomes] == [o.record_id for o in origins]
    assert outcomes[3][1] is not None and outcomes[4][1] is None  # the broken program is a reject; the changed one samples


def test_a_shard_is_adopted_once_and_by_its_name_only(tmp_path):
    writer = RemoteShardWriter(f"file://{tmp_path}", "edit_sequences", "cfg")
    writer.adopt("shard-00002.parquet", 5)
    with pytest.raises(StagingError, match="adopted twice"):
        writer.adopt("shard-00002.parquet", 5)
    with pytest.raises(StagingError, match="not a shard name"):
        writer.adopt("../elsewhere.parquet", 1)
