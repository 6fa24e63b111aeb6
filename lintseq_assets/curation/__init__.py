"""Curation: from raw instruction answers to clean, unique, uncontaminated programs.

A data step (polars + the LintSeq core + datasketch; no Dagster): the `programs` asset and
the CLI both call `curate_programs`.

    from lintseq_assets.curation import CurationSettings, curate_programs
    result = curate_programs(raw_df, CurationSettings.from_dict({"min_statements": 2}))
    result.programs, result.rejects, result.funnel, result.to_markdown()

See docs/curation.md for every step, its reason codes, defaults and how to change them.
"""

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.pipeline import CurationResult, curate_programs

__all__ = ["CurationResult", "CurationSettings", "curate_programs"]
