"""Great Expectations 1.x through our own resource: an ephemeral context over pandas batches.

Why our own: `dagster-ge` is tied to GX 0.x, and GX's SQL datasource does not work on DuckDB.
So the caller reads a bounded sample from the warehouse into a pandas DataFrame and hands it
here with an `ExpectationSuite`; the resource validates it in a throw-away context (nothing
persisted but the Data Docs HTML, analytics and progress bars off) and returns a plain
summary: which expectations failed, unexpected counts, a few example values, and the path of
the Data Docs page, written under `$LINTSEQ_HOME/gx_docs/<suite>/`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

EXAMPLES = 5


@dataclass
class ExpectationFailure:
    """One failed expectation, in terms a person can act on."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list[str] = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)


@dataclass
class GXValidation:
    """The outcome of one suite on one batch."""

    suite: str
    success: bool
    rows: int
    evaluated: int
    failures: list[ExpectationFailure]
    docs_index: str | None = None
    docs_page: str | None = None


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(map(str, kwargs["column_list"]))
    return None


def _examples(result: dict) -> list[str]:
    values = result.get("partial_unexpected_list") or []
    out = []
    for value in values[:EXAMPLES]:
        text = repr(value)
        out.append(text if len(text) <= 120 else text[:117] + "...")
    return out


class GXResource(ConfigurableResource):
    """Runs an expectation suite on a DataFrame and writes Data Docs.

    docs_dir: where the HTML goes (default: `$LINTSEQ_HOME/gx_docs`).
    sample_rows: the most rows a check should read into one batch (callers honour it).
    """

    docs_dir: str = ""
    sample_rows: int = 20_000

    def resolved_docs_dir(self) -> Path:
        if self.docs_dir:
            return Path(self.docs_dir).expanduser().resolve()
        from lintseq_assets.runtime.environment import load_settings

        return load_settings().home / "gx_docs"

    def validate(self, suite, frame: pd.DataFrame) -> GXValidation:
        """Validate `frame` against `suite` (a `gx.ExpectationSuite`) and build its Data Docs."""
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        site_dir = self.resolved_docs_dir() / suite.name
        site_dir.mkdir(parents=True, exist_ok=True)
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            data_docs_sites={
                "lintseq": {
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(site_dir),
                    },
                }
            },
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        batch = (
            context.data_sources.add_pandas(name="warehouse")
            .add_dataframe_asset(name=suite.name)
            .add_batch_definition_whole_dataframe("sample")
        )
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}-sample", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{suite.name}-checkpoint",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["lintseq"])],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        failures: list[ExpectationFailure] = []
        evaluated = 0
        page = None
        for identifier, run in result.run_results.items():
            page = site_dir / "validations" / Path(*identifier.to_tuple()).with_suffix(".html")
            for er in run.results:
                evaluated += 1
                if er.success:
                    continue
                kwargs = {k: v for k, v in er.expectation_config.kwargs.items() if k != "batch_id"}
                res = er.result or {}
                failures.append(
                    ExpectationFailure(
                        expectation=er.expectation_config.type,
                        column=_column_of(kwargs),
                        unexpected_count=res.get("unexpected_count"),
                        unexpected_percent=res.get("unexpected_percent"),
                        examples=_examples(res),
                        kwargs={k: repr(v) for k, v in kwargs.items()},
                    )
                )
        index = site_dir / "index.html"
        return GXValidation(
            suite=suite.name,
            success=bool(result.success),
            rows=len(frame),
            evaluated=evaluated,
            failures=failures,
            docs_index=str(index) if index.exists() else None,
            docs_page=str(page) if page is not None and page.exists() else None,
        )
