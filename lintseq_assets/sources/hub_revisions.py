"""Has a hub source moved? The revision lookup behind the daily schedule (no Dagster here).

A hub source's `source_revision` in the warehouse is the commit the hub resolved when it was
read. Asking the hub for the commit its configured `revision` (a branch or tag) points to now
tells whether there is anything new, without downloading data. Offline (HF_HUB_OFFLINE=1) or
unreachable, the answer is "don't know", which the schedule turns into a logged skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lintseq_assets.sources.spec import SourceSpec


@dataclass
class HubCheck:
    changed: list[tuple[SourceSpec, str]] = field(default_factory=list)  # (spec, new commit)
    unchanged: list[str] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (source, why)
    offline: bool = False


def hub_offline() -> bool:
    """huggingface_hub's own offline switch (it reads HF_HUB_OFFLINE once, at import)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def resolve_revision(spec: SourceSpec) -> str:
    """The commit the configured revision points to now (raises when the hub does not answer)."""
    from huggingface_hub import HfApi

    sha = HfApi().dataset_info(spec.dataset, revision=spec.revision or "main", timeout=20).sha
    if not sha:
        raise RuntimeError("the hub returned no commit")
    return sha


def check_hub_sources(specs: list[SourceSpec], known: dict[str, str]) -> HubCheck:
    """Compare each hub source's current commit with the revision last loaded (`known`)."""
    hub = [s for s in specs if s.loader == "hub"]
    check = HubCheck()
    if hub and hub_offline():
        check.offline = True
        check.unreachable = [(s.name, "HF_HUB_OFFLINE is set") for s in hub]
        return check
    for spec in hub:
        try:
            sha = resolve_revision(spec)
        except Exception as err:  # network, auth, rate limit: one source's problem, not the schedule's
            check.unreachable.append((spec.name, f"{type(err).__name__}: {err}"[:300]))
            continue
        if known.get(spec.name) == sha:
            check.unchanged.append(spec.name)
        else:
            check.changed.append((spec, sha))
    return check
