"""Runs that start at once on one instance register their partitions without failing.

Dagster reads which keys exist, then inserts the rest: two runs can both read a key as
missing, and the second insert met the storage's unique constraint (a CI failure of
test_concurrent_partitions). Here several processes add the same keys at the same moment,
round after round, on one real instance."""

from __future__ import annotations

import multiprocessing

from dagster import DagsterInstance

from lintseq_assets.platform.partitions import SOURCE_PARTITIONS, add_partitions

PROCESSES = 4
ROUNDS = 15


def _adder(home: str, barrier, failures) -> None:
    with DagsterInstance.local_temp(home) as instance:
        for round_ in range(ROUNDS):
            keys = [f"round{round_}~{k}of4" for k in range(4)]
            barrier.wait()
            try:
                add_partitions(instance, keys)
            except Exception as err:
                failures.append(type(err).__name__)


def _race(home: str) -> list[str]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier, failures = manager.Barrier(PROCESSES), manager.list()
        workers = [context.Process(target=_adder, args=(home, barrier, failures)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        return list(failures)


def test_partitions_added_at_once_by_several_runs(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)):
        pass  # the instance's storage exists before the runs start, as with `lintseq ui`
    assert _race(str(tmp_path)) == []
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert len(instance.get_dynamic_partitions(SOURCE_PARTITIONS.name)) == 4 * ROUNDS
