"""Dagster resources and the warehouse's doors: the loader (the one writer, `loader.py`), keyed
merges (`merge.py`), retrying connections (`connect.py`), the DDL generated from
`lintseq_assets.tables` (`ddl.py`), the warehouse and settings resources, and the GX context."""
