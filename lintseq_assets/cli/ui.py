"""`lintseq ui`: the Dagster UI (webserver, daemon, code server) on this machine, ready for the
first click, and gone when it is stopped.

- Before the webserver starts, the configured sources are registered as `sources` partitions,
  so the first "Materialize all" already offers every partition (with plain `dagster dev` or
  `dg dev`, the `incoming_files` sensor registers them on its first tick instead).
- `dg dev` (Dagster's `dagster dev`) runs in a session of its own; Ctrl-C, SIGTERM or SIGHUP to
  `lintseq ui` stop it and every process under it (webserver, daemon, code servers) within `STOP_SECONDS`:
  SIGTERM first, so Dagster shuts down cleanly, then SIGKILL for whatever is left.
- No noise: `dg dev` rather than `dagster dev` (which warns that `dg dev` supersedes it), started
  from DAGSTER_HOME, so no `dagster.yaml` of the working directory is "ignored" (Dagster warns when
  one is there), and with preview and deprecation warnings of Dagster's children filtered out.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lintseq_assets.runtime.environment import PlatformSettings, load_settings

STOP_SECONDS = 10.0
# Of STOP_SECONDS, how long Dagster gets to shut down by itself before SIGKILL.
GRACE_SECONDS = 3.0
# Warnings no user can act on: Dagster telling itself that `dagster dev` has a successor, or
# that an API it uses is a preview. (PYTHONWARNINGS reaches every Python child it starts.)
QUIET_WARNINGS = ("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning:dagster")


def register_configured_sources(settings: PlatformSettings) -> list[str]:
    """The configured sources as partitions of the instance in DAGSTER_HOME (what the UI reads)."""
    from lintseq_assets.platform.instance import platform_instance
    from lintseq_assets.platform.partitions import register_sources

    with platform_instance(settings) as instance:
        return register_sources(instance, settings.home, settings.sources_file)


# Every process `lintseq ui` starts carries this variable (with this process's own value), so
# the stop finds them all, even one its parent left behind with init as its new parent.
SESSION_VARIABLE = "LINTSEQ_UI_SESSION"


def session_token() -> str:
    return f"{os.getpid()}-{time.time_ns()}"


def ui_environment(settings: PlatformSettings, token: str = "") -> dict[str, str]:
    from lintseq_assets.platform.instance import platform_environment

    env = platform_environment(settings)
    env[SESSION_VARIABLE] = token or session_token()
    extra = [w for w in QUIET_WARNINGS if w not in env.get("PYTHONWARNINGS", "")]
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS", ""), *extra]))
    return env


def dagster_dev_command(host: str, port: int) -> list[str]:
    """`dg dev` on the definitions module: `dagster dev` itself warns that `dg dev` supersedes it."""
    return [str(Path(sys.executable).with_name("dg")), "dev", "-m", "lintseq_assets.definitions", "-h", host, "-p", str(port)]


# --- the process tree ------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (children, grandchildren, ...)."""
    tree = _children_map()
    found, todo = [], list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, []))
    return found


def with_token(token: str) -> list[int]:
    """Live processes whose environment holds `SESSION_VARIABLE=token`."""
    marker = f"{SESSION_VARIABLE}={token}".encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read() + b"\0"
        except OSError:
            continue
        if marker in environ and _alive(int(entry)):
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().decode(errors="replace")
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"  # a zombie has exited


def _signal(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_tree(proc: subprocess.Popen, grace: float = GRACE_SECONDS, limit: float = STOP_SECONDS, token: str = "") -> list[int]:
    """Stop `proc` (a session leader) and everything under it (and every process carrying
    `token`); returns the pids still alive (none, unless a process ignores SIGKILL)."""
    deadline = time.monotonic() + limit
    tree = [proc.pid, *descendants(proc.pid)]
    if proc.poll() is None:
        _signal([proc.pid], signal.SIGTERM)  # dagster dev shuts its webserver and daemon down
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    tree += [p for p in descendants(proc.pid) if p not in tree]
    if token:
        tree += [p for p in with_token(token) if p not in tree]
    # Whatever is left: the process group (dagster dev's session) and every pid seen under it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _signal([p for p in tree if _alive(p)], signal.SIGKILL)
    if proc.poll() is None:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.05)
    if token:  # anything started after the first sweep
        late = [p for p in with_token(token) if p not in tree]
        _signal(late, signal.SIGKILL)
        tree += late
    return [p for p in tree if _alive(p)]


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (seconds of module clean-up under load)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class _Stop(Exception):
    """A stop signal arrived."""


def cmd_ui(args: argparse.Namespace) -> int:
    from lintseq_assets.platform.instance import prepare_dagster_home
    from lintseq_assets.sources.spec import SourceConfigError

    settings = load_settings()
    prepare_dagster_home(settings)
    try:
        keys = register_configured_sources(settings)
        print(f"lintseq: {len(keys)} source partition(s) ready to materialize: {', '.join(keys)}", file=sys.stderr)
    except SourceConfigError as err:  # the UI still starts: drops and fixes can follow
        print(f"lintseq: sources not registered as partitions: {err}", file=sys.stderr)
    print(f"lintseq: Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home}); Ctrl-C stops it", file=sys.stderr)

    def stop(signum, frame):
        raise _Stop(signum)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, stop) for sig in stops}
    proc = None
    token = session_token()
    try:
        # Held back while the child starts, so a stop never lands between fork and `proc = ...`
        # (the child unblocks them before it runs dagster).
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            proc = subprocess.Popen(dagster_dev_command(args.host, args.port), env=ui_environment(settings, token),
                                    cwd=settings.dagster_home, start_new_session=True,
                                    preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, stops))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        return proc.wait()
    except _Stop:
        return 0
    finally:
        # Further signals must not interrupt the clean-up.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if proc is not None:
            left = stop_tree(proc, token=token)
            if left:
                print(f"lintseq: processes {left} did not stop", file=sys.stderr)
        print("lintseq: Dagster UI stopped", file=sys.stderr)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
