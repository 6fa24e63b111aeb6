"""`memory_floor`: a small cap is raised for the block and put back; a larger one is kept."""

from __future__ import annotations

import duckdb
import pytest

from lintseq_assets.runtime.memory_cap import memory_floor, parse_bytes, with_floor_on_out_of_memory


def _cap(conn: duckdb.DuckDBPyConnection) -> int:
    return parse_bytes(conn.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def test_a_small_cap_is_raised_then_restored():
    conn = duckdb.connect()
    conn.execute("SET memory_limit = '256MB'")
    before = _cap(conn)
    with memory_floor(conn, "1GB"):
        assert _cap(conn) >= 10**9 * 0.99
    # DuckDB shows its cap rounded (244.1 MiB), and the cap is put back as shown.
    assert abs(_cap(conn) - before) < before / 1000


def test_a_larger_cap_is_kept():
    conn = duckdb.connect()
    conn.execute("SET memory_limit = '4GB'")
    before = _cap(conn)
    with memory_floor(conn, "1GB"):
        assert _cap(conn) == before
    assert _cap(conn) == before


@pytest.mark.parametrize(("text", "expected"), [("244.1 MiB", int(244.1 * 2**20)), ("1GB", 10**9), ("512 MB", 512 * 10**6)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_parse_bytes_refuses_nonsense():
    with pytest.raises(ValueError, match="not a memory size"):
        parse_bytes("lots")


def test_the_floor_is_taken_only_when_duckdb_runs_out():
    """A job that fits runs once under the small cap; one that does not (no spill folder, so
    DuckDB cannot spill) runs again under the floor and succeeds; the cap is put back."""
    conn = duckdb.connect()
    conn.execute("SET temp_directory = ''")
    conn.execute("SET memory_limit = '8MB'")
    small = _cap(conn)
    caps: list[int] = []

    def job(n: int):
        def run() -> int:
            caps.append(_cap(conn))
            return conn.execute(f"SELECT count(DISTINCT repeat(i::VARCHAR, 20)) FROM range({n}) r(i)").fetchone()[0]
        return run

    assert with_floor_on_out_of_memory(conn, "1GB", job(100)) == 100
    assert caps == [small]
    caps.clear()
    assert with_floor_on_out_of_memory(conn, "1GB", job(500_000)) == 500_000
    assert caps[0] == small and caps[1] >= 10**9 * 0.99 and len(caps) == 2
    assert abs(_cap(conn) - small) < small / 50  # put back as DuckDB shows it (7.5 MiB)
