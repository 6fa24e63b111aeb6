"""lintseq-platform: LintSeq edit sequences as Dagster assets over DuckDB."""
