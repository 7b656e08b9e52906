"""Common slips in YAML plan files, told at the line where they were made.

PyYAML notices a missing colon or a line indented one space too far only on a later
line, and says so in its own terms ("mapping values are not allowed here"). Here the
parser's error, its marks and the tokens read before it are matched against the slips
people make; each gives the line and column of the slip and what to write instead.
Anything not recognised keeps the parser's own message.
"""

from __future__ import annotations

import re

import yaml

Slip = tuple[int, int, str]  # 1-based line and column, message


def explain(text: str, exc: yaml.MarkedYAMLError) -> Slip | None:
    """Where and what the slip behind a YAML error is, when it is a common one."""
    mark, context = exc.problem_mark, exc.context_mark
    if mark is None:
        return None
    lines = text.split("\n")
    problem = exc.problem or ""
    if exc.context == "while scanning a quoted scalar" and context is not None:
        return context.line + 1, context.column + 1, "this quote is never closed"
    if problem == "mapping values are not allowed here":
        return _value_before_colon(text, lines, mark)
    if problem == "could not find expected ':'" and context is not None:
        return _missing_colon(lines, context.line, context.column)
    if problem.startswith("expected '<document start>'"):
        first = next((n for n, row in enumerate(lines) if row.strip() and not row.lstrip().startswith("#")), None)
        if first is not None and _indent(lines[first]) > 0:
            return first + 1, 1, "the plan's first key is indented: top-level keys start at the beginning of the line"
        return None
    if problem.startswith("expected <block end>, but found '<block"):
        return _misindented(text, lines, mark, context)
    if problem.endswith("'<scalar>'"):
        return _quoted_then_more(text, lines, mark)
    if exc.context == "while parsing a flow mapping" and problem.endswith("but got '['"):
        return _list_inside_braces(lines, mark)
    if exc.context in ("while parsing a flow mapping", "while parsing a flow sequence") and context is not None:
        opener, closer = ("{", "}") if "mapping" in exc.context else ("[", "]")
        return context.line + 1, context.column + 1, f"this `{opener}` is not closed (missing `{closer}`?)"
    return None


def _value_before_colon(text: str, lines: list[str], mark: yaml.Mark) -> Slip | None:
    """A ':' where no key can start: the plain text before it began where the slip is."""
    row = lines[mark.line]
    item = re.match(r"^(\s*)-(?=[^\s-])", row)
    if item:
        return mark.line + 1, len(item.group(1)) + 1, f"a list item needs a space after '-': write `- {row[item.end() :].strip()}`"
    scalar = _last_plain_scalar(text, mark.index)
    if scalar is None:
        return None
    line, column = scalar.start_mark.line, scalar.start_mark.column
    first = lines[line][column:].rstrip()
    key_position = column == _indent(lines[line]) or lines[line][:column].strip() == "-"
    if line == mark.line:
        keyed = re.match(r"^\s*(?:-\s+)?([^:#]+):\s", lines[line])
        if keyed and not key_position:
            value = lines[line][column:].strip()
            return line + 1, column + 1, f"text holding ': ' must be in quotes: write `{keyed.group(1).strip()}: \"{value}\"`"
        return None
    if key_position:
        glued = re.match(r"^([^\s:]+):(\S.*)$", first)
        if glued:
            return (
                line + 1,
                column + len(glued.group(1)) + 1,
                f"put a space after ':' in `{first}`: write `{glued.group(1)}: {glued.group(2)}`",
            )
        return _missing_colon(lines, line, column)
    owner = re.match(r"^\s*(?:-\s+)?([^:#]+):", lines[line])
    if owner is None:
        return None
    key = owner.group(1).strip()
    deeper = mark.line
    return (
        deeper + 1,
        _indent(lines[deeper]) + 1,
        f"this line is indented more than `{key}:` on line {line + 1}, which already has a value; line it up with `{key}:`",
    )


def _missing_colon(lines: list[str], line: int, column: int) -> Slip:
    written = lines[line][column:].split("#")[0].strip()
    key, _, rest = written.partition(" ")
    suggestion = f"{key}: {rest.strip()}" if rest.strip() else f"{key}:"
    return line + 1, column + len(key) + 1, f"missing ':' after {key!r}: write `{suggestion}`"


def _misindented(text: str, lines: list[str], mark: yaml.Mark, context: yaml.Mark | None) -> Slip | None:
    """A line whose indentation lines it up with nothing above it.

    Either that line is off, or the first line of a block above it is (`   description:`
    over `  inputs:`); the one that breaks the file's usual indentation step is named.
    """
    own = _indent(lines[mark.line])
    step = _step(lines)
    if context is not None and context.column < own:
        owner = _above(lines, context.line, context.column)
        if owner is not None and context.column != _indent(lines[owner]) + step == own:
            return _first_line_off(context, own, mark.line)
    starts = [
        t.start_mark
        for t in _tokens_before(text, mark.index)
        if isinstance(t, (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken)) and t.start_mark.column > own
    ]
    parent = _above(lines, mark.line, own)
    starts = [start for start in starts if parent is not None and start.line > parent]
    if parent is None or not starts:
        return _deeper_than_a_full_key(lines, mark.line, own)
    block = starts[0]  # the outermost block the line fails to join
    if own == _indent(lines[parent]) + step != block.column:
        return _first_line_off(block, own, mark.line)
    return (
        mark.line + 1,
        own + 1,
        f"this line is indented {own} spaces, which matches no line above it "
        f"(line {block.line + 1} has {block.column}, line {parent + 1} has {_indent(lines[parent])}); indent it like one of them",
    )


def _deeper_than_a_full_key(lines: list[str], line: int, own: int) -> Slip | None:
    """`  service: {...}` then `   quantity: ...`: a key cannot hang below a key that has its value."""
    above = next((n for n in range(line - 1, -1, -1) if lines[n].strip() and not lines[n].lstrip().startswith("#")), None)
    if above is None or _indent(lines[above]) >= own:
        return None
    owner = re.match(r"^\s*(?:-\s+)?([^:#\s][^:#]*):\s+\S", lines[above])
    if owner is None or own <= owner.start(1):
        return None
    key = owner.group(1).strip()
    return (
        line + 1,
        own + 1,
        f"this line is indented more than `{key}:` on line {above + 1}, which already has a value; line it up with `{key}:`",
    )


def _first_line_off(block: yaml.Mark, own: int, line: int) -> Slip:
    return (
        block.line + 1,
        block.column + 1,
        f"this line is indented {block.column} spaces, but the lines of its block after it have {own} (line {line + 1}); indent them alike",
    )


def _above(lines: list[str], line: int, width: int) -> int | None:
    """The nearest line above `line` indented less than `width` (comments and blank lines aside)."""
    return next(
        (n for n in range(line - 1, -1, -1) if lines[n].strip() and not lines[n].lstrip().startswith("#") and _indent(lines[n]) < width),
        None,
    )


def _step(lines: list[str]) -> int:
    """The file's usual indentation step (2 when it cannot tell)."""
    steps: dict[int, int] = {}
    previous = None
    for row in lines:
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        if previous is not None and _indent(row) > previous:
            steps[_indent(row) - previous] = steps.get(_indent(row) - previous, 0) + 1
        previous = _indent(row)
    return max(steps, key=lambda step: (steps[step], -step)) if steps else 2


def _quoted_then_more(text: str, lines: list[str], mark: yaml.Mark) -> Slip | None:
    """`when: "a" == b`: the quotes close after "a", and YAML allows nothing after them."""
    quoted = None
    for token in _tokens_before(text, mark.index):
        if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"') and token.end_mark.line == mark.line:
            quoted = token
    if quoted is None:
        return None
    row = lines[mark.line]
    start = quoted.start_mark.column
    value = row[start:].split(" #")[0].rstrip()
    if row[:start].rstrip().endswith((":", "- ")) and "{" in row[:start]:
        value = re.split(r"[,}]\s*(?=\w+:|$)", value)[0]
    example = f", as in '{value}'" if "'" not in value else ""
    return (mark.line + 1, start + 1, f"a value that starts with a quote ends there: put the whole expression in quotes{example}")


def _list_inside_braces(lines: list[str], mark: yaml.Mark) -> Slip:
    row, at = lines[mark.line], mark.column
    message = "inside {...}, an expression holding `[` or `,` must be in quotes"
    key = re.search(r"(\w+):\s*([^,{}:]*)$", row[:at])
    close = row.find("]", at)
    if key and close > 0:
        value = key.group(2) + row[at : close + 1]
        if "'" not in value:
            message += f": write {key.group(1)}: '{value}'"
    return mark.line + 1, at + 1, message


def _tokens_before(text: str, index: int) -> list:
    tokens = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= index:
                break
            tokens.append(token)
    except yaml.YAMLError:
        pass
    return tokens


def _last_plain_scalar(text: str, index: int):
    plain = [t for t in _tokens_before(text, index) if isinstance(t, yaml.ScalarToken) and t.plain]
    return plain[-1] if plain else None


def _indent(row: str) -> int:
    return len(row) - len(row.lstrip(" "))
