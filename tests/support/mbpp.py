"""A small MBPP sample the tests write themselves (the usual MBPP format), and generations for it."""

from __future__ import annotations

import json

from lintseq_assets.core import sample_edit_paths

SAMPLE = [
    {"task_id": 11, "text": "Write a function to add two numbers.", "code": "def add(a, b):\n    return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"],
     "test_setup_code": "", "challenge_test_list": ["assert add(10 ** 20, 1) == 10 ** 20 + 1"]},
    {"task_id": 12, "text": "Write a function for the area of a circle.", "code": "def circle_area(r):\n    return math.pi * r * r",
     "test_list": ["assert circle_area(0) == 0", "assert abs(circle_area(1) - 3.14159) < 1e-4", "assert circle_area(2) > 12"],
     "test_setup_code": "import math", "challenge_test_list": []},
    {"task_id": 13, "text": "Write a function that tells whether a number is even.", "code": "def is_even(n):\n    if n % 2 == 0:\n        return True\n    return False",
     "test_list": ["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)"], "test_setup_code": "", "challenge_test_list": []},
]
WRONG = {"11": "def add(a, b):\n    return a - b", "12": "def circle_area(r):\n    return r / 0", "13": "def is_even(n):\n    return True"}

def write_sample(path):
    """The MBPP sample file the tests (and the CLI test) use."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in SAMPLE:
            handle.write(json.dumps(row) + "\n")
    return path


def write_generations(path):
    """Per task: the solution as an edit sequence, twice, and a wrong program as an edit sequence."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in SAMPLE:
            for edit_path in sample_edit_paths(row["code"], samples=2, seed=0):
                handle.write(json.dumps({"task_id": row["task_id"], "completion": "\n<|diff|>".join(edit_path)}) + "\n")
            wrong = sample_edit_paths(WRONG[str(row["task_id"])], samples=1, seed=0)[0]
            handle.write(json.dumps({"task_id": row["task_id"], "completion": "\n<|diff|>".join(wrong)}) + "\n")
    return path
