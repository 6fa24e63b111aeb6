"""The layer rules of docs/architecture.md, checked on every import in the code (nested ones too).

A package may import packages of a lower layer only, and the lower layers may not reach for
the frameworks above them: the engine (`core/`) knows Python and pyflakes alone, the data
steps know no Dagster, and nothing below `definitions` imports it back (no circular import).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Lowest first; the order of docs/architecture.md's layer table.
LAYERS: list[tuple[str, ...]] = [
    ("lintseq_assets.core",),
    ("lintseq_assets.tables",),
    ("lintseq_assets.runtime",),
    ("lintseq_assets.sources",),
    ("lintseq_assets.curation",),
    ("lintseq_assets.sampling",),
    ("lintseq_assets.exports",),
    ("lintseq_assets.lineage",),
    ("lintseq_assets.evaluation",),
    ("resources",),
    ("checks",),
    ("lintseq_assets.platform",),
    ("lintseq_assets.assets",),
    ("lintseq_assets.definitions",),
    ("lintseq_assets.cli",),
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
DATA_STEPS = {"lintseq_assets.runtime", "lintseq_assets.sources", "lintseq_assets.curation", "lintseq_assets.sampling",
              "lintseq_assets.exports", "lintseq_assets.lineage", "lintseq_assets.evaluation", "lintseq_assets.tables"}
FRAMEWORKS = {"dagster", "dagster_duckdb", "dagster_graphql", "dagster_webserver", "great_expectations"}
# Third-party packages each layer may not import.
FORBIDDEN = {
    "lintseq_assets.core": FRAMEWORKS | {"duckdb", "polars", "pyarrow", "datasets", "ray", "pandas", "numpy"},
    "lintseq_assets.tables": FRAMEWORKS | {"duckdb"},
    **{unit: FRAMEWORKS for unit in DATA_STEPS - {"lintseq_assets.tables"}},
}


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "lintseq_assets" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


SOURCES = sorted(p for pkg in ("lintseq_assets", "resources", "checks") for p in (ROOT / pkg).rglob("*.py"))


def violations() -> list[str]:
    problems = []
    for path in SOURCES:
        here = unit_of(module_name(path))
        if here not in RANK:
            if here != "lintseq_assets":
                problems.append(f"{path.relative_to(ROOT)}: package {here} is not in the layer table")
            continue
        for line, module in imports_of(path):
            there = unit_of(module)
            where = f"{path.relative_to(ROOT)}:{line}"
            if there in RANK and there != here and RANK[there] >= RANK[here]:
                problems.append(f"{where}: {here} (layer {RANK[here]}) imports {module} (layer {RANK[there]})")
            if there in FORBIDDEN.get(here, ()):
                problems.append(f"{where}: {here} may not import {module}")
    return problems


def test_every_import_respects_the_layers():
    assert SOURCES, "no sources found"
    assert violations() == []


@pytest.mark.parametrize(
    ("here", "imported", "expected"),
    [
        ("lintseq_assets/core/sampler.py", "import dagster", "may not import dagster"),
        ("lintseq_assets/core/sampler.py", "from resources.connect import connect_reader", "imports resources.connect"),
        ("lintseq_assets/core/sampler.py", "import duckdb", "may not import duckdb"),
        ("lintseq_assets/curation/records.py", "from lintseq_assets.platform import jobs", "imports lintseq_assets.platform"),
        ("lintseq_assets/platform/runner.py", "from lintseq_assets.definitions import build_definitions", "imports lintseq_assets.definitions"),
        ("resources/loader.py", "from checks import CheckSettings", "imports checks"),
    ],
)
def test_the_rule_catches_an_import_above_its_layer(tmp_path, monkeypatch, here, imported, expected):
    """The checker is not vacuous: plant one bad import in a copy of the tree and it is named."""
    import shutil

    for pkg in ("lintseq_assets", "resources", "checks"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "data"))
    planted = tmp_path / here
    planted.write_text(planted.read_text(encoding="utf-8") + f"\n{imported}\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "SOURCES", sorted(p for pkg in ("lintseq_assets", "resources", "checks") for p in (tmp_path / pkg).rglob("*.py")))
    found = violations()
    assert any(here in problem and expected in problem for problem in found), found
