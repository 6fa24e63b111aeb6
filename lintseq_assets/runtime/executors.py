"""Where chunks of work run: in this process, in local worker processes, or on Ray.

Steps are written once as a plain function over a chunk (`fn(chunk, *args) -> list`); an
executor only decides where the calls happen. Every executor yields results in submission
order and keeps a bounded number of chunks in flight, so the output is byte-identical
whatever the executor or worker count, and memory does not grow with the input.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class LocalExecutor:
    """Worker processes on this machine (none when workers <= 1).

    forkserver is the default start method: safe when the caller is threaded (a Dagster run
    worker, the webserver) and cheap after the first start; a single-threaded caller such as
    the CLI may use fork.
    """

    workers: int = 1
    start_method: str = "forkserver"
    preload: tuple[str, ...] = ("lintseq_assets.core",)

    def map_ordered(self, fn: Callable[..., list], chunks: Iterable[Any], *args: Any) -> Iterator[list]:
        if self.workers <= 1:
            for chunk in chunks:
                yield fn(chunk, *args)
            return
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            context.set_forkserver_preload(list(self.preload))
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(fn, chunk, *args))
                if len(pending) >= self.workers * 4:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


@dataclass(frozen=True)
class RayExecutor:
    """Ray tasks: the same chunk function, on a local or multi-node Ray cluster.

    `address=None` joins the cluster this process is already connected to, or starts a
    local one (`ray.init()`); "auto" or "ray://host:10001" joins an existing cluster. The
    caller decides who stages the output: the chunk function may PUT its own shard to a bucket
    and return only its name (sampling does: `sampling/worker_staging.py`); the single DuckDB
    loader is unchanged either way.
    """

    address: str | None = None
    max_in_flight: int = 16
    num_cpus_per_task: float = 1.0

    def map_ordered(self, fn: Callable[..., list], chunks: Iterable[Any], *args: Any) -> Iterator[list]:
        try:
            import ray
        except ImportError as err:  # pragma: no cover - depends on the optional extra
            raise RuntimeError("the ray executor needs the optional extra: pip install 'lintseq-platform[ray]'") from err
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(num_cpus=self.num_cpus_per_task)(fn)
        shared_args = [ray.put(arg) for arg in args]
        pending: deque = deque()
        for chunk in chunks:
            pending.append(remote.remote(chunk, *shared_args))
            if len(pending) >= self.max_in_flight:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())


def make_executor(kind: str = "local", workers: int = 1, address: str | None = None, start_method: str = "forkserver"):
    """Build an executor from plain settings (asset config, CLI flags)."""
    if kind == "local":
        return LocalExecutor(workers=workers, start_method=start_method)
    if kind == "ray":
        return RayExecutor(address=address, max_in_flight=max(4, workers * 4))
    raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")
