"""A hub source without a network fails fast (or reads the local cache); a missing path names
the rule for relative paths (issue 14: offline, `load_dataset` retried for ~25 s)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from lintseq_assets.sources.ingest import SourceUnavailable, open_source
from lintseq_assets.sources.spec import ColumnMap, SourceSpec, load_sources

HUB_SPEC = SourceSpec(name="h", loader="hub", dataset="someone/tiny", columns=ColumnMap(instruction="q", response="a"))


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Offline mode off (as for a user who simply has no network), the hub a refused port,
    and an empty datasets cache."""
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    return tmp_path / "datasets-cache"


def test_hub_source_without_network_fails_fast_in_one_line(no_network):
    started = time.perf_counter()
    with pytest.raises(SourceUnavailable) as err:
        open_source(HUB_SPEC)
    assert time.perf_counter() - started < 12, "no retry loop without a network (it took ~25 s)"
    message = str(err.value)
    assert "someone/tiny is not in the local cache" in message and "\n" not in message


def _cache_dataset(cache, tmp_path):
    """Lay out `someone/tiny` in the datasets cache as an earlier online load leaves it."""
    import datasets.config
    from datasets import load_dataset

    rows = tmp_path / "tiny.jsonl"
    rows.write_text("".join(json.dumps({"q": f"q{i}", "a": f"x = {i}\n"}) + "\n" for i in range(3)), encoding="utf-8")
    build = tmp_path / "build-cache"
    load_dataset("json", data_files=str(rows), split="train", cache_dir=str(build))
    info_file = next(build.glob("json/*/*/*/dataset_info.json"))
    target = cache / "someone___tiny" / "default" / "0.0.0" / info_file.parent.name
    target.mkdir(parents=True)
    info = json.loads(info_file.read_text(encoding="utf-8")) | {"config_name": "default", "builder_name": "tiny", "dataset_name": "tiny"}
    (target / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    shutil.copy(info_file.parent / "json-train.arrow", target / "tiny-train.arrow")
    assert datasets.config.HF_DATASETS_CACHE == cache


def test_hub_source_without_network_reads_the_local_cache(no_network, tmp_path):
    _cache_dataset(no_network, tmp_path)
    opened = open_source(HUB_SPEC)
    assert [r.instruction for r in opened.records] == ["q0", "q1", "q2"]


def test_missing_path_says_relative_paths_follow_the_sources_file(tmp_path):
    (tmp_path / "sources.yaml").write_text("sources:\n  - name: mine\n    loader: jsonl\n    path: data/mine.jsonl\n", encoding="utf-8")
    spec = load_sources(tmp_path / "sources.yaml")[0]
    with pytest.raises(SourceUnavailable, match="relative path is read from the folder of the sources.yaml"):
        open_source(spec)
