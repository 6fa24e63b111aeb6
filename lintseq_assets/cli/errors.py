"""How the `lintseq` command meets a mistake: one line on stderr, an exit code, no traceback.

    lintseq materialize: data/sources.yaml: source 'mine': unknown key 'pth' (did you mean 'path'?)

`CliError` is raised by a command for a misuse it detects (input = output, a missing file);
`ConfigError` (sources.yaml, run settings, the environment) comes from below. Both print their
message as one line prefixed with the command and exit 2. Anything else is a bug and keeps
its traceback. The argparse helpers every subcommand shares live here too: a help formatter
that shows defaults, and the positive-integer type of `-s` and `-j`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lintseq_assets.runtime.config_errors import ConfigError

USAGE_ERROR = 2  # argparse's own code for a bad command line


class CliError(Exception):
    """A misuse of a command; `str(err)` is the one line to print."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace, prog: str) -> int:
    """`func(args)`, with a user's mistake reported as one line and exit code 2."""
    try:
        return func(args)
    except (CliError, ConfigError) as err:
        print(f"{prog}: {one_line(err)}", file=sys.stderr)
        return getattr(err, "code", USAGE_ERROR)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (`-s 0` asks for nothing and is refused)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` after each option that has a default; None and False say nothing
    (the help text says what leaving the option out means)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        return text + " (default: %(default)s)"
