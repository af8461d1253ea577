"""Errors raised under engines/, loading/ and gates/ are for library users: ValueError subclasses that
name parameters (``max_samples``); only the CLI spells them as flags (``--max-samples``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import inspectcli.errors as errors
from inspectcli.cli.handling import cli_message, flag_of

PACKAGE = Path(errors.__file__).parent
LIBRARY = [p for d in ("engines", "loading", "gates") for p in sorted((PACKAGE / d).rglob("*.py"))]
LIBRARY += [PACKAGE / "compare.py"]
FLAG = re.compile(r"(?<![\w-])--?[a-z][a-z-]*")
LONG_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def test_every_error_class_is_a_value_error():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert errors.InspectError in classes
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, ValueError), cls


def _error_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name.endswith("Error") or name.endswith("_error"):
                yield node


def _texts(node: ast.AST):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def test_no_cli_flag_in_library_error_messages():
    found = []
    for path in LIBRARY:
        tree = ast.parse(path.read_text())
        for call in _error_calls(tree):
            found += [f"{path.name}:{call.lineno}: {t!r}" for t in _texts(call) if FLAG.search(t)]
    assert LIBRARY and not found, "\n".join(found)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_no_cli_flag_in_any_library_text():
    """Not only in raise calls: texts handed to helpers (memory refusals' options and hints, notes)
    reach users too. Docstrings and the gate table's title (drawn by the CLI) aside."""
    found = []
    for path in LIBRARY:
        tree = ast.parse(path.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and id(node) not in docs else None
            if isinstance(text, str) and LONG_FLAG.search(text) and "--fail-if:" not in text:
                found.append(f"{path.name}:{node.lineno}: {text!r}")
    assert not found, "\n".join(found)


def test_library_error_names_the_parameter_and_the_cli_names_the_flag():
    from sklearn.linear_model import LinearRegression

    from inspectcli.engines.permutation import permutation_importance

    X = np.arange(20.0).reshape(10, 2)
    y = X @ [1.0, 2.0]
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError) as info:
        permutation_importance(model, X, y, max_samples=2.5)
    exc = info.value
    assert isinstance(exc, errors.UsageError)
    assert exc.param == "max_samples"
    assert str(exc).startswith("max_samples=2.5 is out of range")
    assert "--" not in str(exc)
    assert cli_message(exc).startswith("--max-samples 2.5 is out of range")
    assert exc.exit_code == errors.EXIT_USAGE


@pytest.mark.parametrize(
    ("param", "flag"),
    [
        ("max_samples", "--max-samples"),
        ("classes", "--class"),
        ("features", "-f/--features"),
        ("bins", "--bins"),
    ],
)
def test_flag_of(param, flag):
    assert flag_of(param) == flag


def test_markers_with_values_are_spelled_for_each_audience():
    exc = errors.UsageError(
        "`method=recursion` needs `kind=average`", "use `method=brute`, or `features=age`"
    )
    assert str(exc) == "method=recursion needs kind=average — use method=brute, or features=age"
    assert cli_message(exc) == "--method recursion needs --kind average — use --method brute, or -f age"
    assert exc.param == "method"


def test_long_flag_marker():
    exc = errors.UsageError("`features!`: unknown feature 'x'", "or name one with `features`")
    assert exc.param == "features"
    assert str(exc) == "features: unknown feature 'x' — or name one with features"
    assert cli_message(exc) == "--features: unknown feature 'x' — or name one with -f/--features"


def test_user_text_in_backquotes_is_not_a_parameter():
    exc = errors.UsageError("`where` 'a `b c` > 1 and `kind2` < 2' is malformed")
    assert str(exc) == "where 'a `b c` > 1 and `kind2` < 2' is malformed"
    assert cli_message(exc) == "--where 'a `b c` > 1 and `kind2` < 2' is malformed"


def test_every_marker_in_library_messages_is_a_known_parameter():
    names = set()
    for path in [*LIBRARY, *sorted((PACKAGE / "workflows").glob("*.py"))]:
        for call in _error_calls(ast.parse(path.read_text())):
            for text in _texts(call):
                names |= {m.group(1).rstrip("!") for m in errors.PARAM.finditer(text)}
    assert names and names <= errors.PARAMS, names - errors.PARAMS
