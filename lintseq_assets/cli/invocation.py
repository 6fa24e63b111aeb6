"""How to name this command and its warehouse so that what we print works as printed.

`make run` runs `.venv/bin/lintseq`, which is not on PATH in a fresh shell: a summary that
says `lintseq sql ...` fails with rc 127. `cli_command` is the command as this process was
invoked, in a form a fresh shell in the same directory runs: `lintseq` when that is what PATH
finds, else the path to the script (relative when it is under the working directory), with
`LINTSEQ_HOME=...` in front when a fresh shell would not find the same warehouse by itself.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from lintseq_assets.runtime.environment import PlatformSettings, find_home


def _script() -> str:
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "lintseq" and argv0.exists():
        script = argv0.resolve()
    else:  # `python -m lintseq_assets.cli.main`, or a test calling main(): the venv's script
        script = Path(sys.executable).with_name("lintseq")
        if not script.exists():
            return f"{shlex.quote(sys.executable)} -m lintseq_assets.cli.main"
    on_path = shutil.which("lintseq")
    if on_path and Path(on_path).resolve() == script:
        return "lintseq"
    cwd = Path.cwd().resolve()
    if cwd in script.parents:
        return shlex.quote(os.path.relpath(script, cwd))
    return shlex.quote(str(script))


def cli_command(settings: PlatformSettings) -> str:
    """`lintseq`, `.venv/bin/lintseq` or `/abs/.venv/bin/lintseq`, prefixed with LINTSEQ_HOME=
    when a fresh shell here would resolve another home."""
    command = _script()
    if find_home()[0].resolve() != settings.home.resolve():
        command = f"LINTSEQ_HOME={shlex.quote(str(settings.home))} {command}"
    return command


def warehouse_missing(settings: PlatformSettings) -> str:
    """One line: where the warehouse was looked for, and how to point elsewhere."""
    return (f"no warehouse at {settings.warehouse_path} ({settings.home_origin}); "
            f"materialize first (`make run` in the project, or `lintseq materialize`), "
            f"or set LINTSEQ_HOME to the folder holding lintseq.duckdb")
