"""A run shows where it is: each stage's start and end with counts, and sampling's progress,
both on the console of `lintseq materialize` and in the step logs the UI shows."""

from __future__ import annotations

import re

STAGES = ["raw_instructions[stdlib]", "raw_instructions[embedded]", "raw_instructions[local]",
          "source_programs[stdlib]", "programs", "edit_sequence_shards", "edit_sequences", "training_exports"]


def test_every_stage_prints_a_start_and_an_end_line_with_counts(small_graph, small_graph_progress):
    lines = small_graph_progress
    for stage in STAGES:
        starts = [line for line in lines if line.startswith(f"{stage}: started")]
        ends = [line for line in lines if line.startswith(f"{stage}: done in ")]
        assert len(starts) == 1 and len(ends) == 1, (stage, lines)
        assert lines.index(starts[0]) < lines.index(ends[0])
    done = {line.split(":")[0]: line for line in lines if ": done in " in line}
    assert re.search(r"records=\d+, candidates=\d+", done["source_programs[stdlib]"])
    assert re.search(r"programs_sampled=\d+, sequences=\d+", done["edit_sequence_shards"])
    assert re.search(r"programs=\d+", done["programs"])
    assert re.search(r"lintseq=\d+", done["training_exports"])
    # Sampling ends with a done/total line, with rate and ETA.
    ticks = [line for line in lines if line.startswith("sampling: ")]
    assert ticks and re.fullmatch(r"sampling: ([\d,]+)/\1 programs \(100%\), [\d,.]+/s, ETA 0s", ticks[-1]), ticks


def test_the_same_lines_are_in_the_step_logs(small_graph, small_graph_progress):
    _, instance, result = small_graph
    logged = [
        record.user_message
        for run_id in result.run_ids
        for record in instance.all_logs(run_id)
        if record.user_message
    ]
    for line in small_graph_progress:
        assert any(line in message for message in logged), line
