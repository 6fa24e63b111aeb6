"""Shared set-up for the platform tests: a small, offline source set in a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lintseq_assets.runtime.environment import PlatformSettings, load_settings
from lintseq_assets.tables import KEYS

# Single-column keys of the tables the platform tests compare row by row.
TABLE_KEYS = {name: KEYS[name][0] for name in ("raw_instructions", "programs", "edit_sequences")}

# A local JSONL source with one record of each kind of trouble the ingest step must survive.
LOCAL_RECORDS = [
    {"id": "ok-1", "question": "Add two numbers.", "answer": "```python\ndef add(a, b):\n    total = a + b\n    return total\n```"},
    {"id": "ok-2", "question": "Greet.", "answer": "Sure:\n\n```python\nimport sys\n\n\ndef greet(name):\n    sys.stdout.write(f'hi {name}')\n    return name\n```"},
    {"id": "ok-1", "question": "duplicate id", "answer": "x = 1"},
    {"id": "null-answer", "question": "nothing", "answer": None},
    {"id": "number-answer", "question": "a number", "answer": 42},
    {"id": "no-answer-field", "question": "missing"},
]


def write_small_sources(home: Path, stdlib_limit: int = 6, embedded_limit: int = 10) -> Path:
    """sources.yaml with a few stdlib files, part of the embedded set and a hostile JSONL file."""
    home.mkdir(parents=True, exist_ok=True)
    local = home / "local.jsonl"
    with open(local, "w", encoding="utf-8") as handle:
        for record in LOCAL_RECORDS:
            handle.write(json.dumps(record) + "\n")
        handle.write("{not json\n")
    sources = {
        "sources": [
            {"name": "stdlib", "loader": "stdlib", "limit": stdlib_limit},
            {"name": "embedded", "loader": "embedded", "limit": embedded_limit},
            {"name": "local", "loader": "jsonl", "path": "local.jsonl", "columns": {"instruction": "question", "response": "answer", "id": "id"}},
        ]
    }
    path = home / "sources.yaml"
    path.write_text(yaml.safe_dump(sources), encoding="utf-8")
    return path


def small_settings(home: Path, **sources_kwargs) -> PlatformSettings:
    sources = write_small_sources(home, **sources_kwargs)
    return load_settings({"LINTSEQ_HOME": str(home), "LINTSEQ_SOURCES": str(sources), "LINTSEQ_WORKERS": "2"})


def small_check_settings(settings: PlatformSettings):
    """The real checks, sized for a test (replay a bounded sample)."""
    from checks import CheckSettings
    from lintseq_assets.platform.run_config import SamplingConfig

    return CheckSettings(sampler_configs=(SamplingConfig().sampler(),), exports_dir=str(settings.exports_dir), replay_max_rows=20)


def table_snapshot(conn, table: str, with_run_id: bool = False) -> list[tuple]:
    """Every row of a table in key order (run_id left out unless asked for)."""
    columns = [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall() if with_run_id or r[0] != "run_id"]
    order = ", ".join(columns)
    return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()


SMALL_RUN_CONFIG = {"ops": {"edit_sequence_shards": {"config": {"samples": 2, "workers": 2}}}}


def run_platform(settings: PlatformSettings, instance, run_config: dict | None = None, check_settings=None, defs=None):
    """The whole graph as `lintseq materialize` runs it: one ingest run per source partition,
    then the global steps; returns a `GraphResult` (success, events, checks of all runs)."""
    from lintseq_assets.definitions import build_definitions
    from lintseq_assets.platform.runner import run_graph

    defs = defs or build_definitions(settings, check_settings or small_check_settings(settings))
    return run_graph(defs, instance, settings.home, settings.sources_file, run_config, log=lambda line: None)
