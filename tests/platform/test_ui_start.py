"""`lintseq ui` registers the configured sources as partitions before it starts the webserver,
so the first "Materialize all" offers every source whoever wins the race with the sensor's
first tick (tests/e2e/test_ui_lifecycle.py runs the real thing)."""

from __future__ import annotations

import argparse

from support.platform import small_settings

from lintseq_assets.cli import ui
from lintseq_assets.platform.instance import platform_instance


class _Exited:
    pid = 2**22 + 1  # no such process
    returncode = 0

    def wait(self, timeout=None):
        return 0

    def poll(self):
        return 0


def test_partitions_exist_before_the_webserver_starts(tmp_path, monkeypatch):
    settings = small_settings(tmp_path / "home", stdlib_limit=2, embedded_limit=2)
    for name, value in (("LINTSEQ_HOME", settings.home), ("LINTSEQ_SOURCES", settings.sources_file)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    seen = {}

    def popen(command, **kwargs):
        with platform_instance(settings) as instance:
            seen["partitions"] = sorted(instance.get_dynamic_partitions("sources"))
        seen["command"], seen["cwd"], seen["env"] = command, kwargs["cwd"], kwargs["env"]
        return _Exited()

    monkeypatch.setattr(ui.subprocess, "Popen", popen)
    monkeypatch.setattr(ui, "stop_tree", lambda proc, token="": [])
    assert ui.cmd_ui(argparse.Namespace(host="127.0.0.1", port=3999)) == 0
    assert seen["partitions"] == ["embedded", "local", "stdlib"]
    assert seen["command"][1:3] == ["dev", "-m"] and seen["command"][0].endswith("/dg")  # dg dev: no supersession warning
    assert seen["cwd"] == settings.dagster_home  # no dagster.yaml of the working directory to ignore
    assert seen["env"]["DAGSTER_HOME"] == str(settings.dagster_home)


def test_plain_dg_dev_gets_the_partitions_on_the_first_sensor_tick(tmp_path):
    """Without `lintseq ui` (plain `dagster dev` / `dg dev`), the incoming_files sensor's first
    tick registers the configured sources (README: reload the page after it)."""
    from dagster import DagsterInstance, SensorResult, build_sensor_context

    from lintseq_assets.definitions import build_definitions
    from lintseq_assets.platform.sensors import INCOMING_SENSOR

    settings = small_settings(tmp_path / "home", stdlib_limit=2, embedded_limit=2)
    sensor = build_definitions(settings).resolve_sensor_def(INCOMING_SENSOR)
    with DagsterInstance.ephemeral() as instance:
        result = sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SensorResult) and not result.run_requests
    assert sorted(result.dynamic_partitions_requests[0].partition_keys) == ["embedded", "local", "stdlib"]
