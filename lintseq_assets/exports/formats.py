"""The trainer formats: how one edit sequence (or one program) becomes one training row.

Every format keeps the lineage columns (program_id, sequence_id, sample_index, config_hash,
source) so any row can be traced back to the warehouse. Texts are built so they parse back:
`parse_edits(prompt + completion)` gives the diffs of a `prompt_completion` row, exactly as
`parse_edits(text)` does for a `lintseq` row, because prompt + completion *is* the reference
training text. Length control works on a row's `keep` (how many edits it carries), so a row
is only ever cut between two diffs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from lintseq_assets.core import replay_states
from lintseq_assets.exports.splits import unit_interval

SEPARATOR = "\n<|diff|>"  # the reference's separator: instruction, then each diff after it
STATE_MARKER = "\n<|state|>\n"  # subtrajectory: instruction, marker, program state after k edits
MARKERS = (SEPARATOR, STATE_MARKER)


@dataclass(frozen=True)
class SequenceItem:
    """One edit sequence with its program's instruction and source: the input of the
    sequence formats (none of them needs the program's text)."""

    sequence_id: str
    program_id: str
    sample_index: int
    config_hash: str
    source: str
    instruction: str
    edit_path: tuple[str, ...]


@dataclass(frozen=True)
class ProgramItem:
    """One program: the input of the `baseline` format."""

    program_id: str
    source: str
    instruction: str
    program: str


@dataclass
class Candidate:
    """A row that can be built with any number of edits in [min_keep, max_keep].

    `text(row)` is what the length limit measures. A format that cannot be cut (baseline)
    has min_keep == max_keep, so an over-long row can only be dropped.
    """

    build: Callable[[int], dict]
    text: Callable[[dict], str]
    max_keep: int
    min_keep: int = 1


def completion_text(edit_path: tuple[str, ...] | list[str]) -> str:
    """The edit-sequence text: each diff preceded by the separator (prompt + this = reference)."""
    return "".join(SEPARATOR + diff for diff in edit_path)


def lintseq_text(instruction: str, edit_path: tuple[str, ...] | list[str]) -> str:
    """The reference's training text: `instruction + "\\n<|diff|>" + "\\n<|diff|>".join(path)`."""
    return instruction + completion_text(edit_path)


def parse_edits(text: str) -> list[str]:
    """The diffs of a lintseq text, prompt + completion, or `"\\n" + assistant content`."""
    return text.split(SEPARATOR)[1:]


def parse_state(prompt: str) -> list[str]:
    """The program state (as lines) carried by a subtrajectory prompt."""
    state = prompt.split(STATE_MARKER, 1)[1]
    return state.split("\n") if state else []


def subtrajectory_k(sequence_id: str, split_seed: int, n_edits: int) -> int:
    """Edits already applied in the prompt: uniform in [1, n-1], 0 for one-edit sequences.

    k = 0 would repeat the plain lintseq example and k = n would leave nothing to predict.
    """
    if n_edits < 2:
        return 0
    return 1 + int(unit_interval("subtrajectory", split_seed, sequence_id) * (n_edits - 1))


def _lineage(item: SequenceItem, n_edits: int) -> dict:
    return {
        "program_id": item.program_id,
        "sequence_id": item.sequence_id,
        "sample_index": item.sample_index,
        "config_hash": item.config_hash,
        "source": item.source,
        "n_edits": n_edits,
        "truncated": n_edits < len(item.edit_path),
    }


_LINEAGE_FIELDS = [
    ("program_id", pa.string()),
    ("sequence_id", pa.string()),
    ("sample_index", pa.int64()),
    ("config_hash", pa.string()),
    ("source", pa.string()),
    ("n_edits", pa.int64()),
    ("truncated", pa.bool_()),
]
_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def _lintseq(item: SequenceItem, split_seed: int) -> Candidate:
    def build(keep: int) -> dict:
        return {"text": lintseq_text(item.instruction, item.edit_path[:keep]), **_lineage(item, keep)}

    return Candidate(build, lambda row: row["text"], len(item.edit_path))


def _prompt_completion(item: SequenceItem, split_seed: int) -> Candidate:
    def build(keep: int) -> dict:
        completion = completion_text(item.edit_path[:keep])
        return {"prompt": item.instruction, "completion": completion, **_lineage(item, keep)}

    return Candidate(build, lambda row: row["prompt"] + row["completion"], len(item.edit_path))


def _messages(item: SequenceItem, split_seed: int) -> Candidate:
    def build(keep: int) -> dict:
        # The assistant turn starts at the first "<|diff|>": chat templates add their own breaks.
        answer = completion_text(item.edit_path[:keep])[1:]
        messages = [{"role": "user", "content": item.instruction}, {"role": "assistant", "content": answer}]
        return {"messages": messages, **_lineage(item, keep)}

    def text(row: dict) -> str:
        return "".join(m["content"] for m in row["messages"])

    return Candidate(build, text, len(item.edit_path))


def _subtrajectory(item: SequenceItem, split_seed: int) -> Candidate:
    total = len(item.edit_path)
    k = subtrajectory_k(item.sequence_id, split_seed, total)
    state = "\n".join(replay_states(list(item.edit_path[:k]))[-1])
    prompt = item.instruction + STATE_MARKER + state

    def build(keep: int) -> dict:
        row = {"prompt": prompt, "completion": completion_text(item.edit_path[k : k + keep])}
        row.update(_lineage(item, keep), state_edits=k, truncated=k + keep < total)
        return row

    return Candidate(build, lambda row: row["prompt"] + row["completion"], total - k)


def _baseline(item: ProgramItem, split_seed: int) -> Candidate:
    row = {
        "text": item.instruction + "\n" + item.program,
        "program_id": item.program_id,
        "sequence_id": None,
        "sample_index": None,
        "config_hash": None,
        "source": item.source,
        "n_edits": None,
        "truncated": False,
    }
    return Candidate(lambda keep: row, lambda r: r["text"], max_keep=1, min_keep=1)


@dataclass(frozen=True)
class Format:
    """A trainer format: what it is built from, its Arrow schema, and how to build a row."""

    name: str
    unit: str  # "sequence" or "program"
    schema: pa.Schema
    candidate: Callable[..., Candidate]
    description: str


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([*columns, *_LINEAGE_FIELDS])


FORMAT_SPECS: dict[str, Format] = {
    spec.name: spec
    for spec in (
        Format(
            "lintseq", "sequence", _schema(("text", pa.string())), _lintseq,
            'The reference training text: `text = instruction + "\\n<|diff|>" + "\\n<|diff|>".join(edit_path)`.',
        ),
        Format(
            "prompt_completion", "sequence",
            _schema(("prompt", pa.string()), ("completion", pa.string())), _prompt_completion,
            "TRL prompt/completion: `prompt` is the instruction, `completion` the edit sequence "
            '(each diff preceded by `"\\n<|diff|>"`), so `prompt + completion` is the lintseq text.',
        ),
        Format(
            "messages", "sequence", _schema(("messages", pa.list_(_MESSAGE))), _messages,
            "TRL conversational: a user turn with the instruction and an assistant turn with the "
            'edit sequence (starting at the first `<|diff|>`).',
        ),
        Format(
            "baseline", "program", _schema(("text", pa.string())), _baseline,
            'The paper\'s control arm: `text = instruction + "\\n" + program`, one row per program.',
        ),
        Format(
            "subtrajectory", "sequence",
            pa.schema([("prompt", pa.string()), ("completion", pa.string()), *_LINEAGE_FIELDS,
                       ("state_edits", pa.int64())]),
            _subtrajectory,
            'As in D3: `prompt` is the instruction, `"\\n<|state|>\\n"` and the program after the '
            "first `state_edits` edits; `completion` holds the remaining edits.",
        ),
    )
}
