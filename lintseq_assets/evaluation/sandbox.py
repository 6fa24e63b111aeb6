"""The sandbox: the one place this project runs code it did not write.

Every call of `run_python` is one fresh process tree, built like this:

1. `subprocess` starts a small *launcher* (our own code, `python -I -S -c LAUNCHER`) in a new
   session (its own process group), with a minimal environment (PATH, HOME and TMPDIR
   pointing into the run's directory, LANG; no tokens, nothing inherited) and a fresh
   temporary directory as its working directory.
2. The launcher enters a new network namespace (no interface but a downed loopback: every
   connect fails) and a new PID namespace when the machine allows it (`unshare(2)` through
   ctypes: Python 3.11 has no `os.unshare`), then forks.
3. The child sets the limits (RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE,
   RLIMIT_NOFILE, no core files); when we run as root it drops to an unprivileged uid/gid
   with no supplementary groups (so RLIMIT_NPROC is enforced and it can write only where
   "anyone" can, i.e. its own directory and world-writable places); it asks to be killed if
   the launcher dies (PR_SET_PDEATHSIG), then execs `python -I` on the harness.
4. The parent waits with a wall-clock timeout, then kills the whole process group; with a
   PID namespace the kernel also kills every process left in it when its first process
   exits, even one that left the group with `setsid()`. After every run it also kills
   whatever the run's uid still owns and waits until nothing is left, so a dying fork storm
   never counts against the next test.

The uid is leased for the run, machine-wide (`_uid_lease`): two processes evaluating at once
(two `lintseq eval`, or the `evaluations` asset beside one) never share one. A shared uid
would share RLIMIT_NPROC, and the reap after one run's timeout would kill the other's.

Why a launcher instead of `preexec_fn`: the runner calls this from several threads, and
`preexec_fn` is not safe with threads; a separate process does the privileged steps with no
lock inherited from anyone. What the sandbox does *not* protect against is in
docs/evaluation.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
# The unprivileged identity of sandboxed code when we run as root. Each concurrent run gets
# its own uid, so one generation's fork storm (which fills its uid's RLIMIT_NPROC) cannot stop
# the generation running next to it from starting. None of these uids owns any file.
SANDBOX_UID_BASE = 61000
SANDBOX_UIDS = 64  # uids 61000-61063: more concurrent runs on one machine wait for a free one
# One lock file per uid; a run holds its uid's flock (LOCK_EX) from before its directory is
# made until its leftovers are reaped. Root-owned, 0700: sandboxed code cannot take a lease.
LEASE_DIR = "/tmp/lintseq-sandbox-uids"
SANDBOX_GID = 65534  # nogroup

# Exit codes of the harness (below) and the launcher.
EXIT_ASSERTION = 3
EXIT_MEMORY = 4
EXIT_ERROR = 5
EXIT_LAUNCH = 70

STATUSES = ("passed", "assertion", "error", "timeout", "memory")

# Runs as root (when we are root) before any untrusted code: namespaces, limits, identity.
LAUNCHER = r"""
import ctypes, json, os, resource, signal, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
if cfg["unshare"] and libc.unshare(cfg["unshare"]) != 0:
    os.write(2, b"sandbox: unshare failed errno %d\n" % ctypes.get_errno())
    os._exit(70)
pid = os.fork()
if pid == 0:
    try:
        for name, value in cfg["limits"]:
            resource.setrlimit(getattr(resource, name), (value, value))
        if cfg["uid"] is not None:
            os.setgroups([])
            os.setgid(cfg["gid"])
            os.setuid(cfg["uid"])
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, set after setuid (which clears it)
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    except BaseException as err:
        os.write(2, ("sandbox: could not start: %r\n" % (err,)).encode())
    os._exit(70)
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
os._exit(os.WEXITSTATUS(status))
"""

# Runs inside the sandbox: the program and its tests, with the outcome as an exit code. The
# nonce arrives on stdin and is printed only after the tests ran to the end, so a program that
# exits early with status 0 (sys.exit(0), os._exit(0)) does not pass.
HARNESS = r"""
import sys
nonce = sys.stdin.readline().strip()
sys.stdin.close()
try:
    with open(sys.argv[1], encoding="utf-8") as handle:
        source = handle.read()
    exec(compile(source, sys.argv[1], "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
except AssertionError as err:
    import traceback
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == sys.argv[1]]
    where = (" at line %d: %s" % (frames[-1].lineno, (frames[-1].line or "")[:200])) if frames else ""
    sys.stderr.write("AssertionError%s%s\n" % (where, (" (" + str(err)[:200] + ")") if str(err) else ""))
    sys.stderr.flush()
    import os
    os._exit(3)
except MemoryError:
    sys.stderr.write("MemoryError\n")
    sys.stderr.flush()
    import os
    os._exit(4)
except BaseException as err:
    sys.stderr.write("%s: %s\n" % (type(err).__name__, str(err)[:300]))
    sys.stderr.flush()
    import os
    os._exit(5)
sys.stdout.write("\n" + nonce + "\n")
sys.stdout.flush()
import os
os._exit(0)
"""


class SandboxUnavailable(RuntimeError):
    """This machine cannot start a sandboxed interpreter at all (nothing is run unsandboxed)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-process limits. `timeout` is wall-clock seconds; the CPU limit is derived from it."""

    timeout: float = 10.0
    memory_mb: int = 2048
    max_processes: int = 64
    max_file_mb: int = 64
    max_open_files: int = 256

    def rlimits(self) -> list[tuple[str, int]]:
        cpu = max(1, int(self.timeout) + 1)
        return [
            ("RLIMIT_CPU", cpu),
            ("RLIMIT_AS", self.memory_mb * 1024 * 1024),
            ("RLIMIT_NPROC", self.max_processes),
            ("RLIMIT_FSIZE", self.max_file_mb * 1024 * 1024),
            ("RLIMIT_NOFILE", self.max_open_files),
            ("RLIMIT_CORE", 0),
        ]


DEFAULT_LIMITS = SandboxLimits()


@dataclass(frozen=True)
class Capabilities:
    """What isolation this machine gives (probed once per process)."""

    network_namespace: bool
    pid_namespace: bool
    drop_privileges: bool
    python: str
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the terminal and the warehouse: what is and is not isolated."""
        parts = [
            "network: isolated (own namespace)" if self.network_namespace else "network: NOT isolated from the network",
            "processes: own PID namespace" if self.pid_namespace else "processes: process group only",
            "identity: unprivileged uid" if self.drop_privileges else "identity: runs as the calling user",
        ]
        return "; ".join(parts)

    @property
    def unshare_flags(self) -> int:
        return (CLONE_NEWNET if self.network_namespace else 0) | (CLONE_NEWPID if self.pid_namespace else 0)


@dataclass(frozen=True)
class SandboxResult:
    """The outcome of one sandboxed process."""

    status: str  # one of STATUSES
    returncode: int | None
    detail: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _minimal_env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


OUTPUT_TAIL_BYTES = 64 * 1024


def _tail(handle) -> str:
    """The last OUTPUT_TAIL_BYTES of a captured stream (the nonce and the error are at the end)."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - OUTPUT_TAIL_BYTES))
    return handle.read().decode("utf-8", "replace")


def _launch(python: str, workdir: str, cfg: dict, stdin: str, timeout: float) -> tuple[int | None, str, str, float, bool]:
    """Run the launcher; kill its whole group at the end. Returns (rc, stdout, stderr, seconds, timed_out).

    Output goes to unlinked temporary files, not pipes: a program that prints without end is
    stopped by RLIMIT_FSIZE instead of filling this process's memory."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(
            [python, "-I", "-S", "-c", LAUNCHER, json.dumps(cfg)],
            cwd=workdir,
            env=_minimal_env(workdir),
            stdin=subprocess.PIPE,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,
            close_fds=True,
        )
        timed_out = False
        try:
            proc.communicate(stdin.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            proc.wait()
        finally:
            _kill_group(proc.pid)
        out, err = _tail(out_file), _tail(err_file)
    return proc.returncode, out, err, time.monotonic() - started, timed_out


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _reap_uid(uid: int, wait: float = 10.0) -> None:
    """Kill every process of a leased uid and wait until none is left.

    The lease makes the uid this run's alone, so every process it owns is a leftover of the
    run that just ended: children that left the group (without a PID namespace) or a fork
    storm the kernel is still tearing down. Waiting here keeps them from counting against the
    RLIMIT_NPROC of the next run that leases this uid."""
    deadline = time.monotonic() + wait
    while True:
        pids = _processes_of(uid)
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def _lease_dir() -> str:
    """LEASE_DIR, made if missing; refused unless it is our own directory (anyone can write
    /tmp: a directory planted there by sandboxed code must not hold our leases)."""
    try:
        os.mkdir(LEASE_DIR, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(LEASE_DIR)  # not followed: a symlink is not a directory here
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxUnavailable(f"{LEASE_DIR} is not a 0700 directory of uid {os.geteuid()}: remove it and run again")
    return LEASE_DIR


@contextlib.contextmanager
def _uid_lease(preferred: int = 0) -> Iterator[int]:
    """A sandbox uid no other run on this machine holds, for the length of the `with`.

    Tries the uids from `preferred` on (callers pass their slot, so one process's workers
    start apart) and waits while all are taken. The lease is an flock on the uid's lock file:
    the kernel drops it when the holder closes it or dies, so a killed evaluator never keeps a
    uid. Processes the uid still owns when the lease starts are a dead holder's leftovers and
    are reaped first."""
    folder = _lease_dir()
    while True:
        for step in range(SANDBOX_UIDS):
            uid = SANDBOX_UID_BASE + (preferred + step) % SANDBOX_UIDS
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                _reap_uid(uid)  # a dead holder's leftovers; returns at once when there are none
                yield uid
            finally:
                os.close(fd)
            return
        time.sleep(0.05)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _workdir(uid: int | None) -> str:
    # The sandbox uid must be able to reach its directory: $TMPDIR may sit inside a 0700
    # folder of ours, /tmp is traversable by anyone.
    base = "/tmp" if uid is not None and os.path.isdir("/tmp") else None
    path = tempfile.mkdtemp(prefix="lintseq-eval-", dir=base)
    if uid is not None:
        os.chown(path, uid, SANDBOX_GID)
    os.chmod(path, 0o700)
    return path


def _candidate_pythons() -> list[str]:
    seen, out = set(), []
    # Ours first; then the system's, for when ours lives where the sandbox uid cannot read
    # (e.g. a pyenv under a 0700 /root). Any Python 3 runs HumanEval/MBPP (standard library).
    system = [shutil.which(name, path="/usr/local/bin:/usr/bin:/bin") for name in ("python3", "python")]
    for path in (sys.executable, getattr(sys, "_base_executable", None), os.path.realpath(sys.executable), *system):
        if path and path not in seen and os.path.exists(path):
            seen.add(path)
            out.append(path)
    return out


def _probe(python: str, flags: int, drop_privileges: bool) -> tuple[bool, str]:
    """Start the launcher with these settings on a trivial program; True if it ran."""
    with _uid_lease() if drop_privileges else contextlib.nullcontext(None) as uid:
        workdir = _workdir(uid)
        try:
            cfg = {"unshare": flags, "limits": [], "uid": uid, "gid": SANDBOX_GID, "env": _minimal_env(workdir), "argv": [python, "-I", "-c", "print('ok')"]}
            rc, out, err, _, _ = _launch(python, workdir, cfg, "", 30.0)
            return rc == 0 and out.strip() == "ok", err.strip()[-200:]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def capabilities() -> Capabilities:
    """Probe once which isolation works here, from strongest to none, and say what is missing."""
    notes: list[str] = []
    is_root = os.geteuid() == 0
    if not is_root:
        notes.append("not running as root: sandboxed code keeps this user's identity and file access; RLIMIT_NPROC applies to all of this user's processes")
    python = None
    for candidate in _candidate_pythons():
        ok, err = _probe(candidate, 0, is_root)
        if ok:
            python = candidate
            break
        notes.append(f"{candidate} cannot run in the sandbox ({err or 'unreadable by the sandbox uid'})")
    if python is None:
        raise SandboxUnavailable("no Python interpreter can run in the sandbox: " + "; ".join(notes))
    net, _ = _probe(python, CLONE_NEWNET, is_root)
    if not net:
        notes.append("unshare(CLONE_NEWNET) is refused here: sandboxed code is NOT isolated from the network")
    pid, _ = _probe(python, (CLONE_NEWNET if net else 0) | CLONE_NEWPID, is_root)
    if not pid:
        notes.append("unshare(CLONE_NEWPID) is refused here: only the process group is killed at the end")
    return Capabilities(network_namespace=net, pid_namespace=pid, drop_privileges=is_root, python=python, notes=tuple(notes))


def _classify(rc: int | None, out: str, err: str, nonce: str, timed_out: bool, limits: SandboxLimits) -> tuple[str, str]:
    tail = err.strip().splitlines()[-1][:300] if err.strip() else ""
    if timed_out:
        return "timeout", f"killed after {limits.timeout:g}s wall time"
    if rc == 0 and nonce in out.split():
        return "passed", ""
    if rc == EXIT_ASSERTION:
        return "assertion", tail or "AssertionError"
    if rc == EXIT_MEMORY or "MemoryError" in err or "Cannot allocate memory" in err:
        return "memory", tail or f"over the {limits.memory_mb} MB address-space limit"
    if rc is not None and rc < 0:
        sig = -rc
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout", f"killed by {signal.Signals(sig).name} (CPU limit {int(limits.timeout) + 1}s)"
        return "error", f"killed by {signal.Signals(sig).name}"
    if rc == 0:
        return "error", "exited before its tests finished"
    if rc == EXIT_LAUNCH and tail.startswith("sandbox:"):
        return "error", tail
    return "error", tail or f"exit status {rc}"


def run_python(source: str, limits: SandboxLimits = DEFAULT_LIMITS, slot: int = 0) -> SandboxResult:
    """Run `source` (a whole script: program plus tests) in a fresh sandboxed process.

    When we are root the run gets a uid of its own (`_uid_lease`); `slot` is where this
    caller starts looking, so a process's concurrent workers do not all try the same one
    first. The status is `passed` only if the script ran to its end; otherwise assertion,
    error, timeout or memory, with a one-line detail.
    """
    caps = capabilities()
    with _uid_lease(slot) if caps.drop_privileges else contextlib.nullcontext(None) as uid:
        return _run_as(uid, caps, source, limits)


def _run_as(uid: int | None, caps: Capabilities, source: str, limits: SandboxLimits) -> SandboxResult:
    """One run as `uid` (None: as ourselves); the caller holds the uid's lease."""
    workdir = _workdir(uid)
    nonce = secrets.token_hex(16)
    try:
        script = Path(workdir) / "main.py"
        script.write_text(source, encoding="utf-8")
        if uid is not None:
            os.chown(script, uid, SANDBOX_GID)
        cfg = {
            "unshare": caps.unshare_flags,
            "limits": limits.rlimits(),
            "uid": uid,
            "gid": SANDBOX_GID,
            "env": _minimal_env(workdir),
            "argv": [caps.python, "-I", "-c", HARNESS, "main.py"],
        }
        rc, out, err, seconds, timed_out = _launch(caps.python, workdir, cfg, nonce + "\n", limits.timeout)
        if uid is not None:  # every run, not only killed ones: the kernel's PID-namespace teardown
            _reap_uid(uid)  # of a fork storm whose first process exited can outlast the return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    status, detail = _classify(rc, out, err, nonce, timed_out, limits)
    return SandboxResult(status, rc, detail, round(seconds, 4))
