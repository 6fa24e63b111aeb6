"""How the global assets follow their inputs without anyone pressing a button.

`FOLLOW_UPSTREAM` is Dagster's eager condition (run when a dependency was updated, not while
one is missing or in progress) and the blocking-checks gate (never past a failed blocking
check of a dependency). The `lintseq_automation` sensor (definitions.py) evaluates it, so a
new source partition (a drop, a backfill, a new hub revision) flows through curation,
sampling, load, checks and exports by itself. Automatic runs carry no run config; the assets
then reuse the settings of their last run (`partitions.last_*_config`), never silently the
defaults.
"""

from dagster import AutomationCondition

FOLLOW_UPSTREAM = AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed()
