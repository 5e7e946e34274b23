"""The build guards the architecture: who may import whom, no module-level import circle, and
no model change without its migration.

Imports are read from the source (the AST), so a boundary is held for every import, including
those inside functions; a circle counts only imports that run when a module is loaded (module
and class bodies, not function bodies, not ``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("novisurf", "novisurf_site", "api", "gallery")

# (importer, what it may not import, why)
FORBIDDEN = [
    ("novisurf", "django", "novisurf/ is plain Python: it imports no Django"),
    ("novisurf", "api", "novisurf/ imports nothing of api/"),
    ("novisurf", "gallery", "novisurf/ imports nothing of gallery/"),
    ("novisurf", "novisurf_site", "novisurf/ imports nothing of the Django project"),
    ("api", "gallery", "api/ never imports gallery/ (the gallery is reached over HTTP)"),
    ("gallery", "api", "gallery/ never imports api/ (it calls endpoints through novisurf.client)"),
]


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name, resolved
    line: int
    at_load: bool  # runs when the importer is loaded


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import in the module, resolved to a dotted name (a submodule where ``from x import
    y`` names one), and whether it runs at load time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = name.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)

    def visit(node: ast.AST, at_load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), False)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), at_load)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(name, alias.name, child.lineno, at_load))
            elif isinstance(child, ast.ImportFrom):
                module = resolve(child)
                for alias in child.names:
                    submodule = f"{module}.{alias.name}"
                    target = submodule if submodule in known else module
                    found.append(Import(name, target, child.lineno, at_load))
            else:
                visit(child, at_load)

    visit(tree, True)
    return found


def all_imports(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    known = set(modules)
    return [i for name, path in modules.items() for i in imports_of(name, path, known)]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def boundary_breaks(imports: list[Import]) -> list[str]:
    return [
        f"{i.importer} (line {i.line}) imports {i.imported}: {why}"
        for i in imports
        for importer, forbidden, why in FORBIDDEN
        if _within(i.importer, importer) and _within(i.imported, forbidden)
    ]


def import_circles(imports: list[Import]) -> list[list[str]]:
    """The strongly connected components (Tarjan) of the load-time import graph that hold more
    than one module, or a module importing itself."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        if i.at_load and i.imported.split(".")[0] in PACKAGES:
            graph.setdefault(i.importer, set()).add(i.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return circles


def test_the_parts_import_only_whom_they_may():
    assert boundary_breaks(all_imports()) == []


def test_no_module_level_import_circle():
    assert import_circles(all_imports()) == []


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    try:
        call_command("makemigrations", check=True, dry_run=True, verbosity=0)
    except SystemExit as exc:
        pytest.fail(f"A model changed without a migration (makemigrations --check: {exc.code}).")


# The checks themselves, on a small project of their own: each catches what it is for.


def _plant(tmp_path: Path, files: dict[str, str]) -> list[Import]:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    modules = {module_name_in(tmp_path, p): p for p in tmp_path.rglob("*.py")}
    known = set(modules)
    return [i for name, path in modules.items() for i in imports_of(name, path, known)]


def module_name_in(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"novisurf/a.py": "import django\n"}, "novisurf.a (line 1) imports django"),
        ({"novisurf/a.py": "def f():\n    from django.conf import settings\n"}, "imports django"),
        ({"novisurf/a.py": "from gallery import models\n"}, "novisurf.a (line 1) imports gallery"),
        (
            {"api/views.py": "from gallery.services import x\n"},
            "api.views (line 1) imports gallery",
        ),
        ({"gallery/tasks.py": "from api import models\n"}, "gallery.tasks (line 1) imports api"),
    ],
)
def test_a_planted_boundary_break_is_caught(tmp_path, files, expected):
    breaks = boundary_breaks(_plant(tmp_path, files))
    assert len(breaks) == 1
    assert expected in breaks[0]


def test_a_planted_circle_is_caught_and_a_lazy_import_is_not_one(tmp_path):
    imports = _plant(
        tmp_path,
        {
            "gallery/tasks.py": "from . import services\n",
            "gallery/services/__init__.py": "from .queue import wake\n",
            "gallery/services/queue.py": "from .. import tasks\n\ndef wake():\n    pass\n",
            "gallery/views.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from . import urls\n",
            "gallery/urls.py": "from . import views\n",
            "api/a.py": "def f():\n    from . import b\n",
            "api/b.py": "from . import a\n",
        },
    )
    assert import_circles(imports) == [
        ["gallery.services", "gallery.services.queue", "gallery.tasks"]
    ]
