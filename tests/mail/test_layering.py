"""The mail layer knows no issue (DESIGN.md, "Layout"): nothing in smartcard_route/mail imports the
issues or directory apps, nor names them in a string (a model label, a URL name, a dotted path)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import smartcard_route.mail

MAIL = Path(smartcard_route.mail.__file__).parent
ABOVE = ("issues", "directory")
NAMES_AN_APP_ABOVE = re.compile(rf"^({'|'.join(ABOVE)})([.:]|$)")


def modules() -> list[Path]:
    found = sorted(MAIL.rglob("*.py"))
    assert MAIL / "models.py" in found and MAIL / "migrations" / "0001_initial.py" in found
    return found


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (documentation, not code)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_it_imports_neither_issues_nor_directory() -> None:
    imports: list[str] = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            imports += [f"{path.relative_to(MAIL)}: {name}" for name in names if name.split(".")[0] in ABOVE]

    assert imports == []


def test_it_names_neither_in_a_string() -> None:
    named: list[str] = []
    for path in modules():
        tree = ast.parse(path.read_text(), str(path))
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
                and NAMES_AN_APP_ABOVE.match(node.value)
            ):
                named.append(f"{path.relative_to(MAIL)}:{node.lineno}: {node.value!r}")

    assert named == []


def test_the_check_sees_an_import_and_a_string_naming_an_app_above() -> None:
    tree = ast.parse('import issues.models\nX = "issues.Issue"\nY = reverse("directory:ra_detail")\n')
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]

    assert [bool(NAMES_AN_APP_ABOVE.match(value)) for value in strings] == [True, True]
    assert any(isinstance(node, ast.Import) and node.names[0].name == "issues.models" for node in ast.walk(tree))
