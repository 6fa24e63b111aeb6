"""The plain result every check function returns, so check logic is testable without Dagster.

The Dagster wrappers in `checks.asset_checks` turn a `CheckOutcome` into an
`AssetCheckResult`; tests call the functions directly and look at `passed` and `metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# How many failing rows a check quotes in its metadata: enough to debug, small enough for the UI.
EXAMPLES = 5


@dataclass
class CheckOutcome:
    """Did the property hold, and the numbers and examples that show why (or why not)."""

    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
    warn_only: bool = False  # a failure that should not block downstream assets


def preview(text: object, limit: int = 200) -> str:
    """A short, single-line rendering of a value for metadata (never a whole program)."""
    rendered = repr(text) if not isinstance(text, str) else text
    rendered = rendered.replace("\n", "\\n")
    return rendered if len(rendered) <= limit else rendered[: limit - 3] + "..."
