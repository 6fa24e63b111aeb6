"""A paper-scale corpus built offline: every top-level def and class of the installed Python.

The paper's instruction set has about 90K programs; there is no hub here, so the benchmark
corpus is the running Python's standard library plus the venv's site-packages, cut into one
program per top-level function or class (decorators included, source lines taken verbatim:
they start at column 0, so nothing needs dedenting). Names a snippet does not define are
tolerated by the engine as baseline lint errors. The code is parsed with `ast`, never
imported or executed.

Each program becomes one JSONL record shaped like OSS-Instruct: an instruction templated
from the name and the docstring's first line, and a markdown answer with a fenced
```python block, so curation's extraction path is exercised. Order is deterministic (hash
of the record id), so `limit: N` takes a representative subset. When the library holds
fewer programs than asked, further rounds pair each program with another (seeded) and
suffix the pair's top-level names: a real new program, not a renamed copy that near
de-duplication would (rightly) throw away.

    python benchmarks/bench_corpus.py [--out DIR] [--target 90000] [--max-lines 200]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lintseq_assets.runtime.executors import LocalExecutor
from lintseq_assets.runtime.files import atomic_path

SKIP_DIRS = {"__pycache__", "test", "tests", "idle_test"}
DEFAULT_TARGET = 90_000
DEFAULT_MAX_LINES = 200
CORPUS_FILE = "programs.jsonl"


@dataclass(frozen=True)
class Snippet:
    """One top-level def/class: where it came from, what it is called, its source."""

    record_id: str
    kind: str  # "function" | "class"
    name: str
    module: str
    doc: str
    code: str


def corpus_roots() -> list[tuple[str, Path]]:
    """The standard library and the running environment's site-packages (labelled)."""
    paths = sysconfig.get_paths()
    roots = [("stdlib", Path(paths["stdlib"]))]
    purelib = Path(paths["purelib"])
    if purelib.is_dir() and purelib not in {r for _, r in roots}:
        roots.append(("site", purelib))
    return roots


def python_files(roots: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """(label/relative path, path) of every .py file, sorted: the same list on every run."""
    files = []
    for label, root in roots:
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).parts
            if SKIP_DIRS.intersection(parts[:-1]) or (label == "stdlib" and "site-packages" in parts):
                continue
            files.append((f"{label}/{path.relative_to(root).as_posix()}", path))
    files.sort()
    return files


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        line = line.strip()
        if line:
            return line[:200]
    return ""


def snippets_of(key: str, path: Path, max_lines: int) -> list[Snippet]:
    """Top-level defs and classes of one file (an unreadable or unparsable file gives none)."""
    try:
        text = path.read_text(encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = text.splitlines()
    module = key.split("/", 1)[1].removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno or node.lineno
        if end - start + 1 > max_lines:
            continue
        code = "\n".join(lines[start - 1 : end])
        if "\x00" in code or not code.strip():
            continue
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        out.append(Snippet(f"{key}:{node.name}:{start}", kind, node.name, module, _first_line(ast.get_docstring(node)), code))
    return out


def _snippets_chunk(files: list[tuple[str, str]], max_lines: int) -> list[Snippet]:
    return [s for key, path in files for s in snippets_of(key, Path(path), max_lines)]


def collect_snippets(max_lines: int = DEFAULT_MAX_LINES, workers: int = 1) -> list[Snippet]:
    """Every snippet, unique by text (vendored copies kept once), in hash-of-id order."""
    files = [(k, str(p)) for k, p in python_files(corpus_roots())]
    chunks = (files[i : i + 64] for i in range(0, len(files), 64))
    seen: set[bytes] = set()
    unique: list[Snippet] = []
    for part in LocalExecutor(workers=workers).map_ordered(_snippets_chunk, chunks, max_lines):
        for snippet in part:
            digest = hashlib.blake2b(snippet.code.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if digest not in seen:
                seen.add(digest)
                unique.append(snippet)
    unique.sort(key=lambda s: hashlib.sha256(s.record_id.encode()).hexdigest())
    return unique


def _rename(code: str, names: list[str], suffix: str) -> str:
    for name in names:
        code = re.sub(rf"\b{re.escape(name)}\b", f"{name}_{suffix}", code)
    return code


def variants(snippets: list[Snippet], rounds: int, seed: int) -> Iterator[Snippet]:
    """Round r >= 1: snippet i followed by a seeded partner, both top-level names suffixed."""
    n = len(snippets)
    for r in range(1, rounds + 1):
        order = list(range(n))
        random.Random(f"{seed}:{r}").shuffle(order)
        for i, snippet in enumerate(snippets):
            partner = snippets[order[i]]
            if partner.record_id == snippet.record_id:
                partner = snippets[order[(i + 1) % n]]
            suffix = hashlib.sha256(f"{seed}:{r}:{i}".encode()).hexdigest()[:6]
            code = _rename(f"{snippet.code}\n\n\n{partner.code}", sorted({snippet.name, partner.name}), suffix)
            yield Snippet(
                f"{snippet.record_id}+{partner.record_id}#r{r}",
                snippet.kind,
                f"{snippet.name}_{suffix}",
                snippet.module,
                snippet.doc,
                code,
            )


def instruction_for(snippet: Snippet) -> str:
    what = "a Python class" if snippet.kind == "class" else "a Python function"
    text = f"Write {what} `{snippet.name}` in the style of the `{snippet.module}` module."
    if snippet.doc:
        text += f" It should do the following: {snippet.doc}"
    return text


def response_for(snippet: Snippet) -> str:
    noun = "class" if snippet.kind == "class" else "function"
    return (
        f"Here is an implementation of the `{snippet.name}` {noun}:\n\n"
        f"```python\n{snippet.code}\n```\n\n"
        f"The {noun} relies on names from `{snippet.module}` where it uses them."
    )


def build_corpus(out_dir: Path, target: int = DEFAULT_TARGET, max_lines: int = DEFAULT_MAX_LINES, seed: int = 0, workers: int = 2) -> dict:
    """Write `out_dir/programs.jsonl` (exactly `target` records) and a `sources.yaml` for it."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    base = collect_snippets(max_lines, workers)
    if not base:
        raise RuntimeError("no top-level definitions found in the standard library")
    rounds = max(0, -(-target // len(base)) - 1)
    written = 0
    with atomic_path(out_dir / CORPUS_FILE) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for snippet in _take(_all(base, rounds, seed), target):
            record = {"id": snippet.record_id, "instruction": instruction_for(snippet), "response": response_for(snippet)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    write_sources(out_dir, limit=None)
    summary = {"records": written, "unique_definitions": len(base), "variant_rounds": rounds, "max_lines": max_lines, "seed": seed,
               "python": sys.version.split()[0], "seconds": round(time.perf_counter() - started, 1)}
    (out_dir / "corpus.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def _all(base: list[Snippet], rounds: int, seed: int) -> Iterator[Snippet]:
    yield from base
    yield from variants(base, rounds, seed)


def _take(items: Iterator[Snippet], n: int) -> Iterator[Snippet]:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item


def write_sources(out_dir: Path, limit: int | None, name: str = "sources.yaml") -> Path:
    """A sources.yaml reading the corpus (optionally its first `limit` records)."""
    path = out_dir / name
    path.write_text(
        "# The scale-benchmark corpus (benchmarks/bench_corpus.py): one program per top-level\n"
        "# def/class of the installed Python. Point LINTSEQ_SOURCES or --sources at this file.\n"
        "sources:\n"
        "  - name: bench\n"
        "    loader: jsonl\n"
        f"    path: {CORPUS_FILE}\n"
        "    columns: {instruction: instruction, response: response, id: id}\n"
        f"    limit: {'null' if limit is None else limit}\n",
        encoding="utf-8",
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("LINTSEQ_HOME", "data"))
    parser.add_argument("--out", type=Path, default=home / "bench", help="output folder (default $LINTSEQ_HOME/bench)")
    parser.add_argument("--target", type=int, default=DEFAULT_TARGET, help="records to write (default 90000)")
    parser.add_argument("--max-lines", type=int, default=DEFAULT_MAX_LINES, help="skip definitions longer than this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-j", "--workers", type=int, default=2)
    args = parser.parse_args(argv)
    summary = build_corpus(args.out, args.target, args.max_lines, args.seed, args.workers)
    print(json.dumps(summary), file=sys.stderr)
    print(args.out / "sources.yaml")
    return 0


if __name__ == "__main__":
    # Through the module's real name, so worker processes unpickle the chunk function by it.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_corpus import main as _main

    raise SystemExit(_main())
