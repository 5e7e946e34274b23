"""The README's Configuration table tells the truth: every environment variable that
``novisurf_site/settings.py`` reads is in it exactly once, with the default the code has."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "novisurf_site" / "settings.py"
README = ROOT / "README.md"

ENV_TYPES = {"str", "int", "float", "bool", "list", "db", "cache", "json", "url", "path"}
# Read by the processes that `make run` and the Dockerfile start, or by boto3 itself.
OUTSIDE_SETTINGS = {
    "NOVISURF_WORKERS",
    "WEB_CONCURRENCY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
# Set by the launcher for the process it starts; not a knob for a person.
INTERNAL = {"NOVISURF_SERVER"}
UNKNOWN = object()  # a default computed from other settings: the README says it in words
_OPERATORS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub}


def _value(node: ast.expr):
    """A default's value when it is a constant (or constants multiplied), else UNKNOWN."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.List) and not node.elts:
        return []
    return UNKNOWN


def settings_variables(source: str) -> dict[str, list]:
    """``NAME -> [default, ...]`` for every ``env.<type>("NAME", default=...)`` (and
    ``env.<type>("NAME", value)``) call; a call without a default has ``None``."""
    found: dict[str, list] = {}
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.func.attr in ENV_TYPES
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            continue
        default = next((k.value for k in node.keywords if k.arg == "default"), None)
        if default is None and len(node.args) > 1:
            default = node.args[1]
        found.setdefault(node.args[0].value, []).append(
            None if default is None else _value(default)
        )
    for match in re.finditer(r"os\.environ\.get\(\"([A-Z_]+)\"", source):
        found.setdefault(match.group(1), []).append(UNKNOWN)
    return found


def configuration_rows(text: str) -> list[tuple[list[str], list[str]]]:
    """``(names, defaults)`` of each row of the Configuration section's tables."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or set(cells[0]) <= {"-", " "}:
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        if names:
            rows.append((names, [d.strip() for d in cells[1].split(",")]))
    return rows


def shown(value) -> str | None:
    """How the README writes a default, or None where it says it in words."""
    if value is UNKNOWN:
        return None
    if value is None or value == "" or value == []:
        return "empty"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


EMPTY_WORDS = {"empty", "none", "(none)"}


def test_every_setting_is_documented_once_with_its_default():
    variables = settings_variables(SETTINGS.read_text())
    rows = configuration_rows(README.read_text())
    documented = [name for names, _ in rows for name in names]

    twice = sorted({name for name in documented if documented.count(name) > 1})
    assert twice == [], f"Documented more than once in README.md: {twice}"
    missing = sorted(set(variables) - set(documented) - INTERNAL)
    assert missing == [], f"Read by settings.py, not in README.md's Configuration: {missing}"
    unknown = sorted(set(documented) - set(variables) - OUTSIDE_SETTINGS)
    assert unknown == [], f"In README.md's Configuration, read by nothing: {unknown}"

    wrong = []
    for names, defaults in rows:
        for position, name in enumerate(names):
            if name not in variables or len(set(map(repr, variables[name]))) > 1:
                continue
            expected = shown(variables[name][0])
            written = defaults[min(position, len(defaults) - 1)]
            if expected is None:
                continue
            if expected == "empty":
                ok = written.lower().split(" ")[0] in EMPTY_WORDS
            else:
                ok = written == expected or written.startswith(expected + " ")
            if not ok:
                wrong.append(f"{name}: README says {written!r}, settings.py {expected!r}")
    assert wrong == []


def test_the_check_reads_what_it_should():
    source = (
        'A = env.int("A", default=3 * 4)\nB = env.str("B", default="")\n'
        'C = env.float("C", default=2.5)\nD = env.bool("D", default=env.bool("A", False))\n'
        'E = env.str("E")\nF = env.list("F", default=[])\n'
    )
    variables = settings_variables(source)
    assert variables["A"] == [12, False] and variables["B"] == [""] and variables["C"] == [2.5]
    assert variables["D"] == [UNKNOWN] and variables["E"] == [None] and variables["F"] == [[]]
    readme = (
        "intro\n## Configuration\n\n| Variable | Default | What |\n| --- | --- | --- |\n"
        "| `AA`, `BB` | `12`, empty | x |\n| `CC` | `2.5` (seconds) | y |\n## Next\n"
        "| `ZZ` | 1 | z |\n"
    )
    assert configuration_rows(readme) == [
        (["AA", "BB"], ["`12`", "empty"]),
        (["CC"], ["`2.5` (seconds)"]),
    ]


def test_no_comment_tells_history_by_issue_number():
    """Comments say why the code is as it is; the issue tracker keeps the history."""
    cited = []
    for folder in ("novisurf", "novisurf_site", "api", "gallery", "bench", "templates", "static"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".html", ".js", ".css"} or "vendor" in path.parts:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"\b[Ii]ssue #?\d+", line):
                    cited.append(f"{path.relative_to(ROOT)}:{number}")
    assert cited == []
