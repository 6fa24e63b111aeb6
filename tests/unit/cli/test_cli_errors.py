"""A user's mistake is one line on stderr and exit code 2, never a traceback (issue 14, part B).

sources.yaml mistakes name the file, the source and the key, with a suggestion; CLI misuse
(input = output, a missing file, `-s 0`) is refused before any work. These run `main()`
in-process: `lintseq materialize` validates its sources before it imports Dagster.
"""

from __future__ import annotations

import json

import pytest

from lintseq_assets.cli.main import main

GOOD_ENTRY = "  - name: mine\n    loader: jsonl\n    path: mine.jsonl\n"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - name: mine\n    loader: jsonl\n    pth: mine.jsonl\n", ["source 'mine'", "unknown key 'pth'", "(did you mean 'path'?)"]),
        ("sources:\n  - name: mine\n    loader: jsnl\n    path: mine.jsonl\n", ["source 'mine'", "'loader'", "'jsnl'", "(did you mean 'jsonl'?)"]),
        ("sources:\n  - name: mine\n   loader: jsonl\n", ["not valid YAML at line 3"]),
        ("sources:\n  - name: my/data\n    loader: jsonl\n    path: mine.jsonl\n", ["sources[0]", "key 'name'", "'my/data'"]),
        ("sources:\n  - name: mine\n    loader: jsonl\n    path: mine.jsonl\n    columns: {instruction: q, respons: a}\n",
         ["source 'mine'", "columns", "unknown key 'respons'", "(did you mean 'response'?)"]),
        ("source:\n" + GOOD_ENTRY, ["top-level 'sources:'", "(did you mean 'sources'?)"]),
        ("sources:\n  - name: mine\n    loader: hub\n", ["source 'mine'", "needs a key 'dataset'"]),
    ],
    ids=["typo-key", "bad-loader", "bad-yaml", "bad-name", "columns-typo", "top-level-typo", "hub-without-dataset"],
)
def test_sources_mistake_is_one_line_naming_file_source_and_key(text, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path / "home"))
    sources = tmp_path / "my-sources.yaml"
    sources.write_text(text, encoding="utf-8")
    assert main(["materialize", "--sources", str(sources)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"lintseq materialize: {sources}: "), line
    for part in expected:
        assert part in line, line
    assert not (tmp_path / "home" / "dagster").exists(), "nothing may start before the sources are valid"


def test_sources_mistake_in_the_default_sources_file(tmp_path, monkeypatch, capsys):
    """`lintseq materialize` with no flag reads $LINTSEQ_HOME/sources.yaml: same one line."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "sources.yaml").write_text("sources:\n  - name: mine\n    loader: jsonl\n    pth: mine.jsonl\n", encoding="utf-8")
    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    monkeypatch.delenv("LINTSEQ_SOURCES", raising=False)
    assert main(["materialize"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(home / "sources.yaml") in line and "unknown key 'pth' (did you mean 'path'?)" in line


def test_missing_sources_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path / "home"))
    assert main(["materialize", "--sources", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such sources file" in _one_line(capsys.readouterr().err)


def _programs(path):
    path.write_text(json.dumps({"id": "a", "program": "x = 1\ny = x\nprint(y)\n"}) + "\n", encoding="utf-8")
    return path


def test_sample_refuses_to_overwrite_its_input(tmp_path, capsys):
    source = _programs(tmp_path / "X.jsonl")
    before = source.read_bytes()
    assert main(["sample", str(source), "-o", str(source)]) == 2
    assert "would overwrite the input" in _one_line(capsys.readouterr().err)
    assert source.read_bytes() == before
    # ... nor through its rejects file
    assert main(["sample", str(source), "-o", str(tmp_path / "out.jsonl"), "--rejects", str(source)]) == 2
    assert source.read_bytes() == before


def test_verify_with_a_missing_file_is_one_line(tmp_path, capsys):
    source = _programs(tmp_path / "in.jsonl")
    assert main(["verify", str(source), str(tmp_path / "missing.jsonl")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "missing.jsonl" in line and "cannot read it" in line
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert main(["verify", str(source), str(bad)]) == 2
    assert "bad.jsonl:1" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["sample", "in.jsonl", "-o", "out.jsonl", "-s", "0"], ["materialize", "-s", "0"],
                                  ["sample", "in.jsonl", "-o", "out.jsonl", "-j", "0"], ["materialize", "-j", "-1"]])
def test_zero_samples_or_workers_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("lintseq 0.")


@pytest.mark.parametrize(("command", "shown"), [
    ("sample", ["(default: 1)", "(default: pyflakes)", "(default: program)"]),
    ("materialize", ["default: the last run's, else 3", "--set NAME=VALUE", "--config RUN.yaml"]),
    ("sql", ["(default: table)", "(default: 60)"]),
    ("verify", ["(default: pyflakes)"]),
])
def test_help_shows_defaults(command, shown, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in shown:
        assert text in out, (text, out)
