"""The first hour of a new user, as subprocesses of the real `lintseq` (issue 14, part B).

- `lintseq materialize --sources bad-path.yaml; echo $?`: one line names the partition and why,
  exit 1 (it printed `partition mine: ok` and exited 0).
- The README's "Adding your own dataset" block, run literally in a checkout-like folder, ingests
  the user's file; the "Try:" commands the run prints then work as printed in a fresh shell
  (they said `lintseq sql ...`, not on PATH: rc 127).
- `--set` reaches the assets: one sample per program, no decontamination, the export's name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
LINTSEQ = str(Path(sys.executable).with_name("lintseq"))
FRESH_PATH = "/usr/bin:/bin"  # a fresh shell: no venv on PATH


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINTSEQ_", "DAGSTER_"))}
    env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "LINTSEQ_WORKERS": "2", **extra})
    return env


def test_unreadable_source_fails_the_run_in_one_line(tmp_path):
    (tmp_path / "bad-path.yaml").write_text("sources:\n  - name: mine\n    loader: jsonl\n    path: nothere.jsonl\n", encoding="utf-8")
    done = subprocess.run([LINTSEQ, "materialize", "--sources", "bad-path.yaml"], cwd=tmp_path, env=_env(LINTSEQ_HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "partition mine: ok" not in done.stderr and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "partition mine" in line]
    assert len(lines) == 1 and "FAILED" in lines[0] and str(tmp_path / "nothere.jsonl") in lines[0] and "no such file" in lines[0]


def _readme_block(title: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(title):]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_readme_add_your_own_dataset_then_the_printed_queries_work_as_printed(tmp_path):
    """Follow the README literally from a checkout's root (LINTSEQ_HOME unset: ./data)."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("lintseq_assets", "pyproject.toml", ".venv", "dagster.yaml"):
        (root / name).symlink_to(REPO / name)
    (root / "data").mkdir()  # what `make run` leaves
    programs = [
        "def area(width, height):\n    product = width * height\n    assert product >= 0\n    return product\n",
        "import os\n\n\ndef list_python(folder):\n    names = sorted(os.listdir(folder))\n    return [n for n in names if n.endswith('.py')]\n",
        "class Counter:\n    def __init__(self):\n        self.seen = {}\n\n    def add(self, word):\n        self.seen[word] = self.seen.get(word, 0) + 1\n        return self.seen[word]\n",
    ]
    answers = [{"uid": f"u{i}", "question": f"Task {i}.", "answer": f"```python\n{program}```"} for i, program in enumerate(programs)]
    (root / "my-answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
    script = _readme_block("**Adding your own dataset**")
    assert "path: mine.jsonl" in script and "data/mine.jsonl" in script
    script = script.replace(".venv/bin/lintseq materialize", ".venv/bin/lintseq materialize --set sampling.samples=1 --set export.name=readme")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=root, env=_env(PATH=FRESH_PATH), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in done.stdout.splitlines() if line.startswith("| ")]
    counts = {row[0]: row[1] for row in cells if row[0] != "source"}
    assert int(counts["mine"]) == 3, done.stdout
    # The summary's "Try:" lines, run as printed in a fresh shell from the same folder.
    tries = [line.strip() for line in done.stdout.splitlines() if " sql \"SELECT" in line]
    assert tries and all(not t.startswith("lintseq ") for t in tries), done.stdout
    for command in tries:
        ran = subprocess.run(["bash", "-c", command], cwd=root, env={"PATH": FRESH_PATH, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, (command, ran.stderr)
        assert "row" in ran.stdout
    # ... and from a subfolder of the checkout the warehouse is still found
    (root / "notes" / "2026").mkdir(parents=True)
    ran = subprocess.run([str(root / ".venv" / "bin" / "lintseq"), "sql", "SELECT count(*) AS n FROM raw_instructions WHERE source = 'mine'", "--format", "csv"],
                         cwd=root / "notes" / "2026", env={"PATH": FRESH_PATH, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and ran.stdout.splitlines()[-1] == "3", ran.stderr
    # a value from `sql --format csv | tail -1` feeds `lintseq lineage`
    lineage = subprocess.run(["bash", "-c", '.venv/bin/lintseq lineage $(.venv/bin/lintseq sql --format csv "SELECT min(sequence_id) FROM edit_sequences" | tail -1)'],
                             cwd=root, env={"PATH": FRESH_PATH, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert lineage.returncode == 0, lineage.stderr


def test_set_reaches_the_assets(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "sources.yaml").write_text("sources:\n  - name: stdlib\n    loader: stdlib\n    limit: 4\n  - name: embedded\n    loader: embedded\n    limit: 6\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text("ops:\n  edit_sequence_shards:\n    config: {samples: 2, seed: 3}\n", encoding="utf-8")
    done = subprocess.run([LINTSEQ, "materialize", "--config", "run.yaml", "--set", "sampling.samples=1", "--set", "curation.decontaminate=false",
                           "--set", "export.name=x"], cwd=tmp_path, env=_env(LINTSEQ_HOME=str(home)), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home / "exports" / "x" / "manifest.json").is_file()

    def sql(query: str) -> str:
        out = subprocess.run([LINTSEQ, "sql", query, "--format", "csv"], env=_env(LINTSEQ_HOME=str(home)), capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()[-1]

    assert sql("SELECT count(*) = count(DISTINCT program_id) AND min(seed) >= 0 FROM edit_sequences") == "True"  # samples=1 (not the file's 2)
    assert sql("SELECT enabled FROM curation_report WHERE step = 'decontaminate'") == "False"
