"""The 10x corpus: real Python from a pinned list of large pure-Python packages, cut offline.

    python benchmarks/bench_corpus_10x.py [--out DIR] [--min-lines 39000000]

The scale corpus (`bench_corpus.py`) is the standard library and one venv: 90,000 records,
3.9M lines of code (with a second, paired round). Ten times that does not exist on this
machine, so this builder installs `PACKAGES` (exact versions, `--no-deps`: only their own
code, nothing is imported) into a bench-only venv (`DIR/venv`) and cuts every `.py` file of
them, parsed with `ast`, never imported or executed, into programs:

- each top-level function and class of at most `--max-lines` lines (decorators included),
  as `bench_corpus.py` does;
- each method of a top-level class (any size of class), dedented to column 0.

Records are unique by text, shaped like OSS-Instruct (templated instruction, markdown answer
with a fenced block; `bench_corpus.instruction_for` / `response_for`), in a deterministic
order (hash of `<package path>:<name>:<line>`). The builder stops adding packages' programs
once it has `--min-lines` lines of code and writes `programs.jsonl`, `sources.yaml` and
`corpus.json` (programs, lines, per package). Distinct programs after de-dup come from the
run itself (`programs` in the warehouse).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corpus import (  # noqa: E402
    CORPUS_FILE,
    SKIP_DIRS,
    Snippet,
    _first_line,
    instruction_for,
    response_for,
    write_sources,
)

from lintseq_assets.runtime.executors import LocalExecutor  # noqa: E402
from lintseq_assets.runtime.files import atomic_path  # noqa: E402

# Large, pure-Python, on PyPI; pinned so the corpus is the same wherever it is built.
# (top-level import folders in site-packages, the distribution)
PACKAGES = (
    ("ansible_collections", "ansible==12.3.0"),
    ("oci", "oci==2.189.0"),
    ("kubernetes", "kubernetes==37.0.2"),
    ("azure", "azure-mgmt-network==33.1.0"),
    ("azure", "azure-mgmt-compute==39.0.0"),
    ("sympy", "sympy==1.14.0"),
    ("msgraph", "msgraph-sdk==1.65.0"),
    ("pulumi_aws", "pulumi-aws==7.51.1"),
    ("pulumi_gcp", "pulumi-gcp==10.2.0"),
    ("homeassistant", "homeassistant==2024.3.3"),
    ("salt", "salt==3008.5"),
    ("twilio", "twilio==9.13.0"),
    ("pulumi_azure", "pulumi-azure==6.40.1"),
    ("pulumi_oci", "pulumi-oci==5.5.0"),
    ("pulumi_azure_native", "pulumi-azure-native==3.29.0"),
    # Added to reach 10x the scale corpus's lines (the fifteen above give 26.7M of 39.1M;
    # the builder stops after the package that passes --min-lines).
    ("msgraph_beta", "msgraph-beta-sdk==1.66.0"),
    ("pulumi_aws_native", "pulumi-aws-native==1.84.0"),
    ("pulumi_kubernetes", "pulumi-kubernetes==4.34.2"),
    ("pulumi_alicloud", "pulumi-alicloud==4.0.0"),
    ("google", "google-cloud-aiplatform==2.7.0"),
    ("pulumi_databricks", "pulumi-databricks==1.118.0"),
    ("pulumi_google_native", "pulumi-google-native==0.32.0"),
    ("google", "google-cloud-compute==1.56.0"),
    ("pulumi_cloudflare", "pulumi-cloudflare==6.23.1"),
    ("pulumi_datadog", "pulumi-datadog==5.17.0"),
    ("pulumi_aiven", "pulumi-aiven==6.62.0"),
)
DEFAULT_MIN_LINES = 39_100_000  # 10x the scale corpus's 3,901,521 lines
DEFAULT_MAX_LINES = 200
LIB = "lib/python{}.{}/site-packages".format(*sys.version_info[:2])


def install(venv: Path) -> Path:
    """The bench-only venv with PACKAGES (no dependencies); returns its site-packages."""
    if not (venv / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = venv / LIB
    wanted = sorted({dist for _, dist in PACKAGES})
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-compile", *wanted], check=True)
    return site


def _source(lines: list[str], start: int, end: int) -> str:
    return textwrap.dedent("\n".join(lines[start - 1 : end]))


def programs_of(key: str, path: str, max_lines: int) -> list[Snippet]:
    """Top-level defs/classes (at most max_lines) and every method of top-level classes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = text.splitlines()
    module = key.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    out: list[Snippet] = []

    def add(node, kind: str, name: str) -> None:
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno or node.lineno
        if end - start + 1 > max_lines:
            return
        code = _source(lines, start, end)
        if "\x00" in code or not code.strip():
            return
        out.append(Snippet(f"{key}:{name}:{start}", kind, name, module, _first_line(ast.get_docstring(node)), code))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(node, "function", node.name)
        elif isinstance(node, ast.ClassDef):
            add(node, "class", node.name)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    add(item, "function", f"{node.name}.{item.name}")
    return out


def _chunk(files: list[tuple[str, str]], max_lines: int) -> list[Snippet]:
    return [s for key, path in files for s in programs_of(key, path, max_lines)]


def package_files(site: Path, folder: str) -> list[tuple[str, str]]:
    files = []
    for path in sorted((site / folder).rglob("*.py")):
        rel = path.relative_to(site)
        if SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        files.append((rel.as_posix(), str(path)))
    return files


def build(out_dir: Path, min_lines: int, max_lines: int, workers: int) -> dict:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    site = install(out_dir / "venv")
    seen: set[bytes] = set()
    # Records go to an unsorted file as they come; only (order key, offset, length) stay in memory.
    index: list[tuple[str, int, int]] = []
    unsorted = out_dir / "unsorted.jsonl"
    spill = open(unsorted, "wb")
    per_package: dict[str, dict] = {}
    total_lines = 0
    folders = list(dict.fromkeys(folder for folder, _ in PACKAGES))
    for folder in folders:
        if total_lines >= min_lines:
            break
        files = package_files(site, folder)
        chunks = (files[i : i + 64] for i in range(0, len(files), 64))
        n = lines = 0
        for part in LocalExecutor(workers=workers).map_ordered(_chunk, chunks, max_lines):
            for snippet in part:
                digest = hashlib.blake2b(snippet.code.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                if digest in seen:
                    continue
                seen.add(digest)
                record = {"id": snippet.record_id, "instruction": instruction_for(snippet), "response": response_for(snippet)}
                data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
                index.append((hashlib.sha256(snippet.record_id.encode()).hexdigest()[:16], spill.tell(), len(data)))
                spill.write(data)
                n += 1
                lines += snippet.code.count("\n") + 1
        per_package[folder] = {"files": len(files), "programs": n, "lines": lines}
        total_lines += lines
        print(f"{folder}: {n:,} programs, {lines:,} lines (total {total_lines:,})", file=sys.stderr)
    seen.clear()
    spill.close()
    index.sort()
    with atomic_path(out_dir / CORPUS_FILE) as tmp, open(tmp, "wb") as handle, open(unsorted, "rb") as source:
        for _, offset, length in index:
            source.seek(offset)
            handle.write(source.read(length))
    unsorted.unlink()
    write_sources(out_dir, limit=None)
    summary = {
        "programs": len(index),
        "lines": total_lines,
        "packages": [dist for _, dist in PACKAGES],
        "per_package": per_package,
        "max_lines": max_lines,
        "python": sys.version.split()[0],
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / "corpus.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data") / "bench10x")
    parser.add_argument("--min-lines", type=int, default=DEFAULT_MIN_LINES)
    parser.add_argument("--max-lines", type=int, default=DEFAULT_MAX_LINES)
    parser.add_argument("-j", "--workers", type=int, default=2)
    args = parser.parse_args(argv)
    summary = build(args.out, args.min_lines, args.max_lines, args.workers)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_package"}), file=sys.stderr)
    print(args.out / "sources.yaml")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_corpus_10x import main as _main

    raise SystemExit(_main())
