"""The sandbox against planted generations: each is stopped or refused, none affects the next
test, the run finishes, and nothing is left running.

The planted programs run as generations of a small HumanEval-shaped benchmark through the
real runner (two at a time), interleaved with correct generations that must still pass.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from lintseq_assets.evaluation.problems import Problem
from lintseq_assets.evaluation.runner import Generation, evaluate
from lintseq_assets.evaluation.sandbox import (
    SANDBOX_UID_BASE,
    SANDBOX_UIDS,
    SandboxLimits,
    capabilities,
    run_python,
)

LIMITS = SandboxLimits(timeout=3.0, memory_mb=1024)
GOOD = "def f():\n    return 1\n"
CHECK = "def check(candidate):\n    assert candidate() == 1\n"


def _problem(task_id: str) -> Problem:
    return Problem(benchmark="humaneval", task_id=task_id, prompt="", canonical_solution=GOOD, tests=(CHECK,), entry_point="f")


def _sandbox_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "uid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.split()[0].isdigit() and SANDBOX_UID_BASE <= int(line.split()[0]) < SANDBOX_UID_BASE + SANDBOX_UIDS and "Z" not in line.split()[1]]


def _harness_processes() -> list[str]:
    """Sandbox processes running generations (the harness reads its nonce), not probes."""
    return [line for line in _sandbox_processes() if "nonce" in line]


def test_capabilities_are_probed_and_described():
    caps = capabilities()
    text = caps.describe()
    assert ("network: isolated" in text) == caps.network_namespace
    if not caps.network_namespace:
        assert "NOT isolated from the network" in text


def test_planted_generations(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_planted_token")
    outside = tmp_path / "outside"  # owned by us (root), not by the sandbox uid
    outside.mkdir()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    planted = {
        "loop": ("def f():\n    while True:\n        pass\n", "timeout"),
        "memory": ("def f():\n    block = bytearray(8 * 1024 ** 3)\n    return len(block)\n", "memory"),
        "write": (f"def f():\n    open({str(outside / 'pwned')!r}, 'w').write('x')\n    return 1\n", "error"),
        "socket": (f"import socket\n\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n    return 1\n", "error"),
        "fork": ("import os\n\ndef f():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n", None),
        "exit0": ("import os\nos._exit(0)\ndef f():\n    return 1\n", "error"),
        "env": ("import os\n\ndef f():\n    assert not any('TOKEN' in k for k in os.environ), sorted(os.environ)\n    assert os.getcwd() == os.environ['HOME']\n    return 1\n", "passed"),
    }
    problems, generations = {}, []
    for name, (program, _) in planted.items():
        problems[f"T/{name}"] = _problem(f"T/{name}")
        generations.append(Generation(f"T/{name}", 0, program))
        generations.append(Generation(f"T/{name}", 1, GOOD))  # the next test must not notice
    try:
        run = evaluate(problems, generations, benchmark="humaneval", fmt="code", limits=LIMITS, workers=2)
    finally:
        listener.close()
    by = {(r.task_id, r.generation_index): r for r in run.results}
    for name, (_, expected) in planted.items():
        bad, good = by[(f"T/{name}", 0)], by[(f"T/{name}", 1)]
        assert good.passed, (name, good.detail)
        if name == "socket" and not capabilities().network_namespace:
            continue  # reported as not isolated; see test_socket_fails_in_a_network_namespace
        if name == "write" and not capabilities().drop_privileges:
            continue
        if expected == "passed":
            assert bad.passed, (name, bad.detail)
        elif expected is None:  # the fork storm: stopped one way or the other, never a pass
            assert bad.failure_kind in ("timeout", "error", "memory"), bad
        else:
            assert bad.failure_kind == expected, (name, bad.failure_kind, bad.detail)
    assert not (outside / "pwned").exists()
    assert "Network is unreachable" in by[("T/socket", 0)].detail or not capabilities().network_namespace
    assert run.pass_at_k[1] == pytest.approx((1 + 6 * 0.5) / 7)
    assert _sandbox_processes() == []  # the fork storm and the loop are gone


def test_socket_fails_in_a_network_namespace():
    if not capabilities().network_namespace:
        pytest.skip("this machine refuses unshare(CLONE_NEWNET): the sandbox reports 'NOT isolated from the network'")
    result = run_python("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n", LIMITS)
    assert result.status == "error" and "unreachable" in result.detail.lower()


def test_writes_outside_the_directory_fail_but_inside_work(tmp_path):
    if not capabilities().drop_privileges:
        pytest.skip("not running as root: sandboxed code keeps this user's file access (documented)")
    target = tmp_path / "x.txt"
    assert run_python(f"open({str(target)!r}, 'w').write('x')\n", LIMITS).status == "error"
    assert run_python(f"open({os.path.join(os.getcwd(), 'pwned')!r}, 'w')\n", LIMITS).status == "error"
    assert run_python("open('inside.txt', 'w').write('ok')\nassert open('inside.txt').read() == 'ok'\n", LIMITS).passed
    assert not target.exists()


def test_fork_storm_is_contained_and_killed():
    result = run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", SandboxLimits(timeout=2.0))
    assert result.status in ("timeout", "error")
    assert _sandbox_processes() == []
    assert run_python("import os\nassert os.fork is not None\n", LIMITS).passed


def test_a_child_that_leaves_the_group_dies_with_the_sandbox():
    if not capabilities().pid_namespace:
        pytest.skip("no PID namespace here: a child that calls setsid() can outlive the run (documented)")
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nelse:\n    pass\n"
    assert run_python(code, LIMITS).passed
    assert _sandbox_processes() == []


def test_another_evaluator_keeps_its_uid_and_survives_our_timeout():
    """Two processes evaluate at once, both from slot 0: a real second process runs a slow,
    correct generation while this one runs a fork storm that times out and is reaped. Each
    run leases its own uid, so the reap leaves the other's run alone and it passes."""
    if not capabilities().drop_privileges:
        pytest.skip("not running as root: sandboxed code runs as this user, no uid to lease")
    other = subprocess.Popen(
        [sys.executable, "-c", "from lintseq_assets.evaluation.sandbox import SandboxLimits, run_python\n"
         "r = run_python('import time\\ntime.sleep(6)\\n', SandboxLimits(timeout=30.0), slot=0)\nprint(r.status, r.detail)\n"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _harness_processes() and time.monotonic() < deadline:  # its run, not its capability probes
            assert other.poll() is None, other.communicate()
            time.sleep(0.02)
        assert _harness_processes(), "the other evaluator's run never started"
        storm = run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", SandboxLimits(timeout=2.0), slot=0)
        assert storm.status in ("timeout", "error")
        out, err = other.communicate(timeout=60)
    finally:
        other.kill()
    assert out.split()[:1] == ["passed"], (out, err[-2000:])


def test_endless_output_is_cut_by_the_file_size_limit():
    result = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 1_000_000)\n", SandboxLimits(timeout=10.0, max_file_mb=8))
    assert result.status == "error" and ("File too large" in result.detail or "SIGXFSZ" in result.detail)  # Python ignores SIGXFSZ
    assert run_python("print('fine')\n", LIMITS).passed
