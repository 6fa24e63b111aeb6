"""Where things live and what the defaults are: the one module that reads the environment.

Every other module receives a `PlatformSettings` (Dagster resources are built from it in
`definitions.py`), so a test or a user changes behaviour with one variable, and nothing
deep in the code reads `os.environ` behind anyone's back.

    LINTSEQ_HOME      everything a run writes (default: `data/` of the project you are in:
                      the nearest folder, from the working directory up, that holds
                      `data/lintseq.duckdb` or is a lintseq-platform checkout; else ./data)
    LINTSEQ_SOURCES   the sources.yaml to read (default $LINTSEQ_HOME/sources.yaml if it
                      exists, else the embedded default shipped in lintseq_assets/data/)
    LINTSEQ_WORKERS   sampling worker processes (default 2)
    LINTSEQ_REPLAY_CHECK_ROWS  sequences the replay check verifies; above it, a deterministic
                      sample (default 100: replaying and linting every state costs ~0.5 s each)
    DAGSTER_HOME      the Dagster instance (default $LINTSEQ_HOME/dagster)
    LINTSEQ_SQL_MEMORY_LIMIT  DuckDB's memory cap for `lintseq sql` queries (default 256MB;
                      `lintseq sql --memory-limit` overrides it)
    LINTSEQ_WAREHOUSE_MEMORY_LIMIT  DuckDB's memory cap for the platform's warehouse
                      connections, the loader's too unless LINTSEQ_LOADER_MEMORY_LIMIT is set
                      (default 256MB; the 10x run fits in it: docs/scale.md). DuckDB spills
                      beyond it; more memory makes big merges and scans faster.
    LINTSEQ_STAGING_URL  where staged sets go (default $LINTSEQ_HOME/staging); an fsspec URL
                      such as s3://bucket/prefix hands them across machines (docs/scale.md);
                      credentials and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                      AWS_ENDPOINT_URL as boto reads them. Scratch files stay local.
    LINTSEQ_LOADER_MEMORY_LIMIT  DuckDB's memory cap for the loader, the one writer (default
                      LINTSEQ_WAREHOUSE_MEMORY_LIMIT). A loader on its own node can afford more
                      and appends faster with it: 1GB spills less (docs/scale.md, "The loader's
                      rate"). DuckDB syntax: 512MB, 2GB, 50%.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lintseq_assets.runtime.config_errors import ConfigError

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_SOURCES_FILE = PACKAGE_DATA / "sources.yaml"
# DuckDB's cap for the warehouse's connections, and the loader's unless it is given its own: the
# platform's (resources.connect.DEFAULT_MEMORY_LIMIT), so memory stays flat unless an operator
# asks for more.
DEFAULT_WAREHOUSE_MEMORY_LIMIT = "256MB"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The instance template: storage, telemetry, run limits. Copied into DAGSTER_HOME. It is package
# data, not a dagster.yaml at the repository root: Dagster reads (or warns that it ignores) a
# dagster.yaml in the working directory, and `dg dev` / `dagster dev` without DAGSTER_HOME
# would then fail on its `env: DAGSTER_HOME` storage.
DAGSTER_YAML_TEMPLATE = REPO_ROOT / "dagster.yaml"


@dataclass(frozen=True)
class PlatformSettings:
    """Resolved locations and defaults for one process."""

    home: Path
    sources_file: Path
    workers: int
    dagster_home: Path
    replay_check_rows: int = 100
    # How `home` was chosen, for error messages ("LINTSEQ_HOME", or where the search looked).
    home_origin: str = "LINTSEQ_HOME"
    staging_url: str = ""
    warehouse_memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT
    loader_memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT

    @property
    def warehouse_path(self) -> Path:
        return self.home / "lintseq.duckdb"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def staging_root(self) -> Path | str:
        """Where staged sets go: the URL if one is set, else the local staging folder."""
        return self.staging_url or self.staging_dir

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"


def _positive_int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < 1:
        raise ConfigError(f"{name} must be >= 1, got {number}")
    return number


# What DuckDB's memory_limit accepts: an amount with a unit, or a share of RAM.
_MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)\s*$", re.IGNORECASE)


def memory_limit(value: str | None, default: str, name: str) -> str:
    """A DuckDB memory cap from the environment, checked here so a typo fails in one line at
    start-up instead of deep inside the first load."""
    if value is None or not value.strip():
        return default
    if not _MEMORY_LIMIT.match(value):
        raise ConfigError(f"{name} must be a DuckDB memory size such as 512MB, 2GB or 50%, got {value!r}")
    return value.strip()


def _is_project_root(folder: Path) -> bool:
    """A lintseq-platform checkout: its pyproject.toml next to the package."""
    return (folder / "pyproject.toml").is_file() and (folder / "lintseq_assets" / "__init__.py").is_file()


def find_home(cwd: Path | None = None) -> tuple[Path, str]:
    """(home, how it was found) when LINTSEQ_HOME is unset: `data/` of the nearest folder, from
    `cwd` up, that holds a warehouse (`data/lintseq.duckdb`) or is the project's root; else
    `cwd/data`. So `lintseq sql` finds `make run`'s warehouse from anywhere in the checkout."""
    cwd = (cwd or Path.cwd()).resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "data" / "lintseq.duckdb").is_file() or _is_project_root(folder):
            return folder / "data", f"LINTSEQ_HOME unset: data/ of {folder}, the nearest folder from {cwd} up holding data/lintseq.duckdb or the project"
    return cwd / "data", f"LINTSEQ_HOME unset: looked for data/lintseq.duckdb or the project root from {cwd} up to /, found neither, so ./data"


def load_settings(environ: dict[str, str] | None = None, cwd: Path | None = None) -> PlatformSettings:
    """Read the environment once; relative paths are resolved against the working directory."""
    env = os.environ if environ is None else environ
    if env.get("LINTSEQ_HOME"):
        home, origin = Path(env["LINTSEQ_HOME"]).expanduser().resolve(), "LINTSEQ_HOME"
    else:
        home, origin = find_home(cwd)
    if env.get("LINTSEQ_SOURCES"):
        sources = Path(env["LINTSEQ_SOURCES"]).expanduser().resolve()
    elif (home / "sources.yaml").is_file():
        sources = home / "sources.yaml"
    else:
        sources = DEFAULT_SOURCES_FILE
    dagster_home = Path(env.get("DAGSTER_HOME") or home / "dagster").expanduser().resolve()
    workers = _positive_int(env.get("LINTSEQ_WORKERS"), 2, "LINTSEQ_WORKERS")
    replay_rows = _positive_int(env.get("LINTSEQ_REPLAY_CHECK_ROWS"), 100, "LINTSEQ_REPLAY_CHECK_ROWS")
    warehouse_cap = memory_limit(env.get("LINTSEQ_WAREHOUSE_MEMORY_LIMIT"), DEFAULT_WAREHOUSE_MEMORY_LIMIT, "LINTSEQ_WAREHOUSE_MEMORY_LIMIT")
    return PlatformSettings(
        home=home, sources_file=sources, workers=workers, dagster_home=dagster_home, replay_check_rows=replay_rows, home_origin=origin,
        staging_url=(env.get("LINTSEQ_STAGING_URL") or "").strip(),
        warehouse_memory_limit=warehouse_cap,
        # The loader takes the warehouse's cap unless its own node can afford more.
        loader_memory_limit=memory_limit(env.get("LINTSEQ_LOADER_MEMORY_LIMIT"), warehouse_cap, "LINTSEQ_LOADER_MEMORY_LIMIT"),
    )


DEFAULT_SQL_MEMORY_LIMIT = "256MB"


def sql_memory_limit(environ: dict[str, str] | None = None) -> str:
    """The memory cap of ad-hoc `lintseq sql` queries (DuckDB syntax: 512MB, 4GB, 80%)."""
    env = os.environ if environ is None else environ
    return env.get("LINTSEQ_SQL_MEMORY_LIMIT") or DEFAULT_SQL_MEMORY_LIMIT
