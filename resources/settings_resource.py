"""Platform settings as a Dagster resource (`lintseq_settings`).

Values come from `lintseq_assets.runtime.environment.load_settings()` (the one place that reads the
environment) when the Definitions are built, and are visible in the UI's resource page.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from lintseq_assets.runtime.environment import PlatformSettings


class SettingsResource(ConfigurableResource):
    """Where a run reads sources and writes staging shards and exports."""

    home: str
    sources_file: str
    workers: int = 2
    staging_url: str = ""

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> SettingsResource:
        return cls(home=str(settings.home), sources_file=str(settings.sources_file), workers=settings.workers, staging_url=settings.staging_url)

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def staging_dir(self) -> Path:
        return self.home_path / "staging"

    @property
    def staging_root(self) -> Path | str:
        """Where staged sets go (LINTSEQ_STAGING_URL, or the local staging folder); scratch
        files stay under `staging_dir` on this machine."""
        return self.staging_url or self.staging_dir

    @property
    def exports_dir(self) -> Path:
        return self.home_path / "exports"
