"""A small report of the diabetes model, built once for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: cheap settings: the page has every section, computed in seconds
SMALL = [
    "--top-k", "4", "--top-pairs", "2", "--n-repeats", "2", "--ice-lines", "8",
    "--grid-resolution", "12", "--pair-rows", "60", "--subsample", "150",
]  # fmt: skip


def make_report(samples: Path, out: Path, *extra: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    args = [
        "report",
        str(samples / "diabetes_hgb.joblib"),
        str(samples / "diabetes.parquet"),
        "--target",
        "target",
        *SMALL,
        "--out",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


@pytest.fixture(scope="session")
def diabetes_report(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder written by `inspect report` for the diabetes model (small settings)."""
    out = tmp_path_factory.mktemp("report") / "diabetes"
    code, err = make_report(samples, out)
    assert code == 0, err
    return out
