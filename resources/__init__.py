"""Dagster resources: the DuckDB warehouse and the platform settings."""
