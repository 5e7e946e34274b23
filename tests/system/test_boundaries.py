"""The architecture, checked: ``api`` and ``gallery`` never import each other (the site joins
them through ``novisurf_site.keeping``), and ``novisurf`` imports no Django and neither app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "api": ("gallery",),
    "gallery": ("api",),
    "novisurf": ("django", "api", "gallery", "novisurf_site"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_it_may(package):
    crossings = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".", 1)[0]
            if top in FORBIDDEN[package]:
                crossings.append(f"{path.relative_to(ROOT)} imports {module}")
    assert crossings == []


def test_the_seam_imports_neither_app():
    modules = imported_modules(ROOT / "novisurf_site" / "keeping.py")
    assert not {m for m in modules if m.split(".", 1)[0] in ("api", "gallery")}
