"""Training-ready exports: warehouse frames in, a folder `datasets` and TRL load as it is.

    from lintseq_assets.exports import ExportSettings, write_exports
    result = write_exports(sequences, programs, out_dir, ExportSettings(), lineage={...})

No Dagster here. `write_exports` takes frames; the `training_exports` asset uses
`staged.stage_from_warehouse` and `write_staged_exports`, which stream (same bytes).
Formats and settings are documented in docs/exports.md.
"""

from lintseq_assets.exports.config import FORMATS, ExportError, ExportSettings
from lintseq_assets.exports.formats import (
    FORMAT_SPECS,
    SEPARATOR,
    STATE_MARKER,
    completion_text,
    lintseq_text,
    parse_edits,
    parse_state,
)
from lintseq_assets.exports.manifest import EXPORT_FORMAT_VERSION, verify_manifest
from lintseq_assets.exports.splits import assign_split
from lintseq_assets.exports.writer import (
    ExportResult,
    StagedInputs,
    default_out_dir,
    write_exports,
    write_staged_exports,
)

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "FORMATS",
    "FORMAT_SPECS",
    "SEPARATOR",
    "STATE_MARKER",
    "ExportError",
    "ExportResult",
    "ExportSettings",
    "StagedInputs",
    "assign_split",
    "completion_text",
    "default_out_dir",
    "lintseq_text",
    "parse_edits",
    "parse_state",
    "verify_manifest",
    "write_exports",
    "write_staged_exports",
]
