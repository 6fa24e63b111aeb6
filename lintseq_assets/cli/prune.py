"""`lintseq sources prune`: remove sources that sources.yaml no longer names.

    lintseq sources prune [SOURCE ...] [--dry-run] [--yes] [--sources FILE]

Without SOURCE, every source that has rows in the warehouse or a `sources` partition but is no
longer configured (sources.yaml, or a drop). It lists what goes (rows per table, staged and
partition files, Dagster partitions), asks before removing (`--yes` for scripts; `--dry-run`
only lists), and removes the rows through the loader (the one writer,
`lintseq_assets.platform.prune`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lintseq_assets.runtime.environment import load_settings


def cmd_prune(args: argparse.Namespace) -> int:
    from lintseq_assets.platform.instance import platform_instance
    from lintseq_assets.platform.prune import (
        configured_sources,
        plan_prune,
        prune,
        unconfigured_sources,
    )

    settings = load_settings()
    sources_file = Path(args.sources).resolve() if args.sources else settings.sources_file
    with platform_instance(settings) as instance:
        stale = unconfigured_sources(settings, sources_file, instance)
        if args.source:
            configured = sorted(set(args.source) & configured_sources(settings, sources_file))
            if configured:
                print(f"lintseq sources prune: {', '.join(configured)} still configured in {sources_file}; "
                      "remove it there first", file=sys.stderr)
                return 2
            names = list(dict.fromkeys(args.source))
        else:
            names = stale
        if not names:
            print(f"lintseq sources prune: every source in the warehouse is configured in {sources_file}; nothing to prune")
            return 0
        plans = [plan_prune(settings, name, instance) for name in names]
        print(f"Not configured in {sources_file}; pruning removes:")
        for plan in plans:
            print("\n".join(plan.describe()))
        if args.dry_run:
            print("(dry run: nothing removed)")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                print("lintseq sources prune: not a terminal; pass --yes to prune without asking", file=sys.stderr)
                return 1
            if input(f"Remove {', '.join(names)}? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing removed")
                return 1
        for plan in plans:
            deleted = prune(settings, plan, instance)
            rows = sum(deleted.values())
            print(f"pruned {plan.source}: {rows:,} rows, {len(plan.files)} files, {len(plan.partitions)} partitions")
    print("The global steps (programs, sampling, exports) still include them until they run again: "
          "`lintseq materialize`, or let automation follow in the UI.")
    return 0


def unconfigured_note(settings, sources_file: Path) -> str | None:
    """For run summaries: the sources in the warehouse that `sources_file` no longer names."""
    from lintseq_assets.platform.prune import unconfigured_sources, warehouse_sources

    stale = unconfigured_sources(settings, sources_file)
    if not stale:
        return None
    rows = warehouse_sources(settings)
    listed = ", ".join(f"{name} ({rows.get(name, 0):,} raw rows)" for name in stale)
    return (f"No longer configured in {sources_file}, still in the warehouse and the exports: {listed}. "
            "Remove them with `lintseq sources prune` (--dry-run to see what goes).")


def add_sources_command(sub: argparse._SubParsersAction) -> None:
    sources = sub.add_parser("sources", help="manage the configured sources")
    actions = sources.add_subparsers(dest="sources_command", required=True)
    prune = actions.add_parser("prune", help="remove the rows, files and partitions of sources no longer in sources.yaml")
    prune.add_argument("source", nargs="*", help="sources to prune (default: every source no longer configured)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    prune.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--sources", help="the sources.yaml to compare with (default: the configured one)")
    prune.set_defaults(func=cmd_prune)
