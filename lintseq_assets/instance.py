"""The local Dagster instance: DAGSTER_HOME prepared under $LINTSEQ_HOME from dagster.yaml.

`lintseq ui` and `lintseq materialize` share it, so runs started from the command line show
up in the UI's history, and both obey the same pools and run limits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .settings import DAGSTER_YAML_TEMPLATE, PlatformSettings

MANAGED_MARKER = "# managed by lintseq"


def prepare_dagster_home(settings: PlatformSettings) -> Path:
    """Create DAGSTER_HOME and (re)write its dagster.yaml unless the user took it over."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    template = DAGSTER_YAML_TEMPLATE.read_text(encoding="utf-8")
    if not target.exists() or (target.read_text(encoding="utf-8").startswith(MANAGED_MARKER) and target.read_text(encoding="utf-8") != template):
        tmp = target.with_name(f".dagster.yaml.{os.getpid()}.tmp")
        shutil.copyfile(DAGSTER_YAML_TEMPLATE, tmp)
        os.replace(tmp, target)
    return home


def platform_environment(settings: PlatformSettings) -> dict[str, str]:
    """Environment for a child process (dagster dev) that resolves to the same places."""
    env = dict(os.environ)
    env.update(
        LINTSEQ_HOME=str(settings.home),
        LINTSEQ_SOURCES=str(settings.sources_file),
        LINTSEQ_WORKERS=str(settings.workers),
        DAGSTER_HOME=str(settings.dagster_home),
        LINTSEQ_REPLAY_CHECK_ROWS=str(settings.replay_check_rows),
    )
    return env
