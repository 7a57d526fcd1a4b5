"""Imports point one way (DESIGN.md): ``faces`` imports neither half, ``detect`` never imports ``generate`` (a
detector must not know how the fakes were made), ``generate`` never imports ``detect``, and ``benchmarks`` reads
generated fakes through ``datasets``, never by importing ``generate``. Checked on the source, imports inside
functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fakebench"
FORBIDDEN = {"faces": ("generate", "detect", "benchmarks"), "detect": ("generate",), "generate": ("detect",),
             "benchmarks": ("generate",)}


def imported(path: Path) -> set[str]:
    """Every module a file imports, absolute (``from fakebench import mark`` names ``fakebench.mark``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_imports_point_one_way(part):
    wrong = []
    for path in sorted((PACKAGE / part).rglob("*.py")):
        for name in sorted(imported(path)):
            for other in FORBIDDEN[part]:
                if name == f"fakebench.{other}" or name.startswith(f"fakebench.{other}."):
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fakebench.generate import convert\n")
    assert "fakebench.generate.convert" in imported(bad)
