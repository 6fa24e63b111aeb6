"""The stdlib tokenizer's token stream for ordinary programs, about twice as fast.

Per-record curation tokenises every kept program once (`tokens.code_tokens`), and on
Python 3.11 `tokenize.generate_tokens` is pure Python: building a `TokenInfo` and a
generator step per token was a quarter of curation's per-record time at 10x scale. This
module runs the same loop as `tokenize._tokenize` (3.11), with the same regular expressions
taken from the `tokenize` module itself, but keeps only what `code_tokens` keeps: the token
strings, with NEWLINE / INDENT / DEDENT as markers and comments and non-logical newlines
left out.

It is a fast path, not a second tokenizer: anything off the ordinary (a character no token
pattern matches, a string left open, an unindent to no outer level, the end of input inside
brackets) makes it return None, and the caller uses `tokenize` itself, so every program gets
exactly the stream `tokenize` gives. The tests compare the two over the standard library.

On Python 3.12 and later `tokenize` splits f-strings into parts, which this loop does not,
so there the fast path is off (`ENABLED`) and `tokenize` is always used.
"""

from __future__ import annotations

import re
import sys
import tokenize

ENABLED = sys.version_info < (3, 12)

_PSEUDO = re.compile(tokenize.PseudoToken).match
_ENDPATS = {prefix: re.compile(pattern).match for prefix, pattern in tokenize.endpats.items() if pattern}
_TRIPLE = frozenset(tokenize.triple_quoted)
_SINGLE = frozenset(tokenize.single_quoted)
_TABSIZE = tokenize.tabsize
_DIGITS = frozenset("0123456789")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")


def _uncaptured(pattern: str) -> str:
    """`pattern` with its capturing groups made non-capturing, so `findall` returns strings."""
    return re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)


# Every token of a line with the whitespace before it, in one `findall`: `tokenize`'s own
# pattern, made non-capturing inside one group. When the pieces cover the whole line, no
# character was an ERRORTOKEN; lines where a string may span lines (a triple quote, a
# backslash before the newline) take the token-by-token loop, as `tokenize` does.
_LINE_PIECES = re.compile("(" + _uncaptured(tokenize.PseudoToken) + ")").findall
_MULTILINE_HINTS = ('"""', "'''")
# Most lines are "plain": only word characters, whitespace and operators (`!` only in `!=`).
# No string or comment can start in one and the token pattern cannot fail on it, so a much
# lighter pattern (numbers, operators, names, in `tokenize`'s order) gives the same tokens.
_PLAIN_LINE = re.compile(r"(?:[\w \t\f.,:;()\[\]{}+\-*/%@&|^~<>=]|!=)*\n?\Z").match
_PLAIN_TOKENS = re.compile(
    tokenize.Whitespace + "(" + "|".join(_uncaptured(p) for p in (tokenize.Number, tokenize.Funny, tokenize.Name)) + ")"
).findall


def _lines(text: str) -> list[str]:
    """Lines as `io.StringIO(text).readline` returns them: split at "\\n" only, ends kept."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _whole_line(line: str, pos: int) -> list[str] | None:
    """The tokens of `line` from `pos` by one `findall`, newline and comment still in, or None
    when the line needs the token-by-token loop (a string may span lines, or some character
    matched no token pattern)."""
    if _PLAIN_LINE(line, pos):
        return _PLAIN_TOKENS(line, pos)
    if line.endswith(("\\\n", "\\\r\n")) or any(hint in line for hint in _MULTILINE_HINTS):
        return None
    pieces = _LINE_PIECES(line, pos)
    if sum(map(len, pieces)) != len(line) - pos:
        return None
    tokens = [piece.lstrip(" \f\t") for piece in pieces]
    while tokens and not tokens[-1]:
        tokens.pop()  # the empty match at the end of the line
    return tokens


def scan_tokens(text: str, newline: str, indent: str, dedent: str) -> list[str] | None:
    """`text`'s significant tokens as `tokens.code_tokens` keeps them, or None when `text` is
    anything `tokenize` would treat specially (the caller then asks `tokenize`)."""
    if not ENABLED:
        return None
    out: list[str] = []
    append = out.append
    pseudo = _PSEUDO
    parenlev = 0
    continued = False
    indents = [0]
    contstr = ""
    needcont = False  # a single-quoted string continued by a backslash must keep one per line
    endprog = None
    lines = _lines(text)
    for line in lines:
        pos, end_of_line = 0, len(line)
        if contstr:  # inside a string that started on an earlier line
            assert endprog is not None
            endmatch = endprog(line)
            if endmatch is None:
                if needcont and not line.endswith(("\\\n", "\\\r\n")):
                    return None  # an unterminated single-quoted string: tokenize's ERRORTOKEN
                contstr += line
                continue
            pos = endmatch.end(0)
            append(contstr + line[:pos])
            contstr = ""
        elif parenlev == 0 and not continued:  # a new statement: measure its indentation
            column = 0
            while pos < end_of_line:
                char = line[pos]
                if char == " ":
                    column += 1
                elif char == "\t":
                    column = (column // _TABSIZE + 1) * _TABSIZE
                elif char == "\f":
                    column = 0
                else:
                    break
                pos += 1
            if pos == end_of_line:
                return None  # a last line of only whitespace: rare, left to tokenize
            if line[pos] in "#\r\n":
                continue  # comment or blank line: COMMENT and NL, both left out
            if column > indents[-1]:
                indents.append(column)
                append(indent)
            while column < indents[-1]:
                if column not in indents:
                    return None  # IndentationError in tokenize
                indents.pop()
                append(dedent)
        else:
            continued = False
        tokens = _whole_line(line, pos)
        if tokens is not None:
            ends_line = bool(tokens) and tokens[-1][:1] in ("\n", "\r")
            if ends_line:
                tokens.pop()
            if tokens and tokens[-1][:1] == "#":
                tokens.pop()
            parenlev += sum(map(tokens.count, "([{")) - sum(map(tokens.count, ")]}"))
            out.extend(tokens)
            if ends_line and parenlev <= 0:  # tokenize: NL inside brackets, NEWLINE otherwise
                append(newline)
            continue
        while pos < end_of_line:
            match = pseudo(line, pos)
            if match is None:
                return None  # ERRORTOKEN
            start, end = match.span(1)
            pos = end
            if start == end:
                continue
            token = line[start:end]
            initial = token[0]
            if initial in _DIGITS or (initial == "." and token != "." and token != "..."):
                append(token)
            elif initial == "\r" or initial == "\n":
                if parenlev <= 0:
                    append(newline)
            elif initial == "#":
                continue
            elif token in _TRIPLE:
                endprog = _ENDPATS[token]
                endmatch = endprog(line, pos)
                if endmatch is None:
                    contstr, needcont = line[start:], False
                    break
                pos = endmatch.end(0)
                append(line[start:pos])
            elif initial in _SINGLE or token[:2] in _SINGLE or token[:3] in _SINGLE:
                if token[-1] == "\n":  # continued with a backslash
                    endprog = _ENDPATS.get(initial) or _ENDPATS.get(token[1]) or _ENDPATS.get(token[2])
                    contstr, needcont = line[start:], True
                    break
                append(token)
            elif initial.isidentifier():
                append(token)
            elif initial == "\\":
                continued = True
            else:
                if initial in _OPEN:
                    parenlev += 1
                elif initial in _CLOSE:
                    parenlev -= 1
                append(token)
    if contstr or parenlev != 0 or continued:
        return None  # EOF in a string or a statement: tokenize raises TokenError
    last_line = lines[-1] if lines else ""
    if last_line and last_line[-1] not in "\r\n" and not last_line.strip().startswith("#"):
        append(newline)
    out.extend(dedent for _ in indents[1:])
    return out
