"""The platform's asset checks read what their run wrote: the partition for raw_instructions,
the run id for the global assets; uniqueness stays a whole-table check."""

from __future__ import annotations


def test_check_evaluations_name_their_scope(small_graph):
    _, _, result = small_graph
    scopes = {}
    for evaluation in result.get_asset_check_evaluations():
        scope = evaluation.metadata.get("scope")
        if scope is not None:
            scopes.setdefault(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}", set()).add(scope.value)
    raw = scopes["raw_instructions:required_values"]
    assert raw == {"partition stdlib", "partition embedded", "partition local"}
    downstream = result.runs[-1].run_id
    for name in ("edit_sequences:edit_counts", "edit_sequences:required_values", "edit_sequences:edits_view",
                 "edit_sequences:config_hashes", "programs:required_values"):
        assert scopes[name] == {f"run {downstream}"}, name
    assert "edit_sequences:unique_sequence_id" not in scopes
