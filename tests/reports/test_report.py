"""`inspect report` through the real CLI: files, reproducibility, --from, bad input, --summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.reports.conftest import make_report

SECTIONS = ["provenance", "info", "importance", "pdp", "ale", "h2", "coefficients", "notes"]


def test_report_writes_one_set(diabetes_report: Path) -> None:
    names = sorted(p.name for p in diabetes_report.iterdir())
    assert names == sorted(
        ["report.html", "report.json", "info.json", "importance.json", "pdp.json", "ale.json",
         "interactions.json"]
    )  # fmt: skip
    page = (diabetes_report / "report.html").read_text("utf-8")
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page
    man = json.loads((diabetes_report / "report.json").read_text())
    assert man["kind"] == "report"
    assert man["parts"]["coefficients"]["status"] == "not applicable"
    assert man["parts"]["ale"]["status"] == "done"  # s1/s2 and s3/s4 are correlated clusters
    # trust: hashes, class, shape, versions and the seed are on the page
    assert man["model"]["sha256"] in page and man["data"]["sha256"] in page
    assert "sklearn.ensemble.HistGradientBoostingRegressor" in page and "442 rows × 11 columns" in page
    assert f"matplotlib {man['versions']['matplotlib']}" in page
    # offline: no external reference of any kind
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "@import" not in page and "url(http" not in page


def test_pdp_is_for_top_features_by_importance(diabetes_report: Path) -> None:
    imp = json.loads((diabetes_report / "importance.json").read_text())
    pdp = json.loads((diabetes_report / "pdp.json").read_text())
    ranked = sorted(imp["results"][0]["features"], key=lambda f: f["rank"])
    expected = ([f["columns"][0] for f in ranked] + [c for f in ranked for c in f["columns"][1:]])[:4]
    assert pdp["parameters"]["features"] == expected
    pairs = json.loads((diabetes_report / "interactions.json").read_text())
    assert pairs["kind"] == "interactions" and pairs["parameters"]["features"] == expected[:2]
    [entry] = pairs["results"]
    assert [sorted(p["features"]) for p in entry["pairs"]] == [sorted(expected[:2])]
    assert entry["pairs"][0]["h2"] is not None


def test_h2_part_is_inspect_interactions(samples: Path, diabetes_report: Path, tmp_path: Path) -> None:
    """The report's H² part and `inspect interactions` with the same options: the same numbers."""
    from typer.testing import CliRunner

    from inspectcli.cli.app import app
    from inspectcli.formatting import fmt

    part = json.loads((diabetes_report / "interactions.json").read_text())
    params = part["parameters"]
    a, b = params["features"]
    args = ["interactions", str(samples / "diabetes_hgb.joblib"), str(samples / "diabetes.parquet"),
            "--target", "target", "-f", a, "-f", b, "--pairs", "all", "--rows", "60",
            "--random-state", str(params["random_state"]), "--out", str(tmp_path / "ix")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    alone = json.loads((tmp_path / "ix" / "interactions.json").read_text())
    assert alone["results"] == part["results"] and alone["rows"] == part["rows"]
    assert alone["parameters"] == params
    page = (diabetes_report / "report.html").read_text("utf-8")
    h2 = part["results"][0]["pairs"][0]["h2"]
    assert "Friedman’s H² at data points" in page and f">{fmt(h2, 3)}</td>" in page


def test_same_inputs_same_page(samples: Path, diabetes_report: Path, tmp_path: Path) -> None:
    """A second run gives a byte-identical page; result JSON differs only in elapsed_s."""
    code, err = make_report(samples, tmp_path / "again")
    assert code == 0, err
    assert (tmp_path / "again" / "report.html").read_bytes() == (diabetes_report / "report.html").read_bytes()
    for name in ("importance.json", "pdp.json", "report.json"):
        a = json.loads((tmp_path / "again" / name).read_text())
        b = json.loads((diabetes_report / name).read_text())
        for doc in (a, b):
            doc.pop("elapsed_s")
            for part in doc.get("parts", {}).values():
                part.pop("elapsed_s")
        assert a == b


def test_from_rebuilds_the_same_page(cli, diabetes_report: Path, tmp_path: Path) -> None:
    r = cli("report", "--from", diabetes_report, "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "report.html").read_bytes() == (diabetes_report / "report.html").read_bytes()
    r = cli("report", "--from", diabetes_report, "--out", tmp_path / "t", "--timings")
    assert r.exit_code == 0, r.stderr
    assert "seconds" in (tmp_path / "t" / "report.html").read_text()


def test_from_command_results_without_manifest(cli, samples: Path, tmp_path: Path) -> None:
    """A folder of plain `inspect pdp` / `importance` results makes a page too."""
    model, data = samples / "cancer_logreg.joblib", samples / "cancer.csv"
    r = cli("coefficients", model, data, "--target", "target", "--no-plot", "--out", tmp_path, "-q")
    assert r.exit_code == 0, r.stderr
    r = cli("report", "--from", tmp_path / "coefficients.json", "--out", tmp_path / "page")
    assert r.exit_code == 0, r.stderr
    page = (tmp_path / "page" / "report.html").read_text()
    assert "mean radius" in page and 'id="coefficients"' in page
    assert "Not in this report: no result for this part" in page


def _one_error(r, code: int) -> str:
    assert r.exit_code == code, (r.exit_code, r.stderr)
    lines = r.err_lines
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_from_empty_folder(cli, tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{}")
    line = _one_error(cli("report", "--from", tmp_path), 3)
    assert "holds no inspect result files" in line
    assert not (tmp_path / "report.html").exists()


def test_from_mixed_models(cli, diabetes_report: Path, samples: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(diabetes_report / "importance.json", mixed)
    r = cli("coefficients", samples / "cancer_logreg.joblib", samples / "cancer.csv", "--target", "target",
            "--no-plot", "--out", mixed, "-q")  # fmt: skip
    assert r.exit_code == 0
    line = _one_error(cli("report", "--from", mixed), 3)
    assert "mixes results of different models" in line
    assert not (mixed / "report.html").exists()


def test_too_large_writes_nothing(cli, diabetes_report: Path, tmp_path: Path) -> None:
    line = _one_error(
        cli("report", "--from", diabetes_report, "--out", tmp_path / "o", "--max-size", "50KB"), 2
    )
    assert "over --max-size" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--skip", "pdq"], "unknown part"),
        (["--top-k", "0"], "--top-k 0"),
        (["--max-size", "big"], "not a size"),
        (["--pair-grid", "10"], "use --pair-rows"),  # the option before H² at data points
    ],
)
def test_usage_errors(cli, samples: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    r = cli("report", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--out", tmp_path, *args)
    assert needle in _one_error(r, 2)
    assert not any(tmp_path.iterdir())


def test_from_with_model_is_usage_error(cli, diabetes_report: Path, samples: Path) -> None:
    r = cli("report", samples / "diabetes_hgb.joblib", "--from", diabetes_report)
    assert "give no MODEL or DATA" in _one_error(r, 2)


def test_report_summary(cli, diabetes_report: Path, tmp_path: Path) -> None:
    md = tmp_path / "s.md"
    r = cli("report", "--from", diabetes_report, "--out", tmp_path, "--summary", md)
    assert r.exit_code == 0, r.stderr
    text = md.read_text()
    imp = json.loads((diabetes_report / "importance.json").read_text())
    first = min(imp["results"][0]["features"], key=lambda f: f["rank"])["feature"]
    assert text.startswith("### inspect report — diabetes_hgb.joblib on diabetes.parquet")
    assert f"Most important (r2): {first} (" in text
    assert "Strongest interactions (H²)" in text


def test_importance_summary_with_failed_gate(cli, samples: Path, tmp_path: Path) -> None:
    md = tmp_path / "imp.md"
    r = cli("importance", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target",
            "--n-repeats", "2", "--no-plot", "--out", tmp_path, "--summary", md,
            "--fail-if", "rank(sex) > 2")  # fmt: skip
    assert r.exit_code == 1
    doc = json.loads((tmp_path / "importance.json").read_text())
    text = md.read_text()
    rows = [ln for ln in text.splitlines() if re.match(r"\| \d+ \|", ln)]
    assert len(rows) == 10
    top = min(doc["results"][0]["features"], key=lambda f: f["rank"])
    assert rows[0].startswith(f"| 1 | {top['feature']} |")
    assert "❌ **--fail-if: 1 condition(s) failed**" in text and "`rank(sex) > 2`" in text


def test_pdp_and_diff_summaries(cli, samples: Path, tmp_path: Path) -> None:
    model, data = samples / "diabetes_hgb.joblib", samples / "diabetes.parquet"
    for seed in ("0", "1"):
        r = cli("pdp", model, data, "-f", "bmi", "-f", "s5", "--pair", "bmi,s5", "--grid-resolution", "8",
                "--no-plot", "--random-state", seed, "--out", tmp_path / seed,
                "--summary", tmp_path / f"pdp{seed}.md")  # fmt: skip
        assert r.exit_code == 0, r.stderr
    text = (tmp_path / "pdp0.md").read_text()
    doc = json.loads((tmp_path / "0" / "pdp.json").read_text())
    h2 = next(e["h2"] for e in doc["results"] if len(e["features"]) == 2)
    assert "| bmi × s5 |" in text and text.count("| bmi |") == 1
    from inspectcli.formatting import fmt

    assert f"| bmi × s5 | {fmt(h2, 3)} |" in text
    r = cli("diff", tmp_path / "0" / "pdp.json", tmp_path / "1" / "pdp.json", "--summary", tmp_path / "d.md")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "d.md").read_text().startswith("### inspect diff — pdp: 0/pdp.json → 1/pdp.json")


def test_from_different_data_warns(cli, samples: Path, tmp_path: Path) -> None:
    """Same model, two data files: the page is built and says so (stderr and the notes section)."""
    import pandas as pd

    model = samples / "diabetes_hgb.joblib"
    full = samples / "diabetes.parquet"
    half = tmp_path / "half.csv"
    pd.read_parquet(full).iloc[:200].to_csv(half, index=False)
    r = cli("pdp", model, full, "-f", "bmi", "--grid-resolution", "5", "--no-plot", "--out", tmp_path / "r")
    assert r.exit_code == 0, r.stderr
    r = cli("ale", model, half, "-f", "bmi", "--bins", "4", "--no-plot", "--out", tmp_path / "r")
    assert r.exit_code == 0, r.stderr
    r = cli("report", "--from", tmp_path / "r")
    assert r.exit_code == 0, r.stderr
    assert "different data files" in r.stderr
    assert "different data files" in (tmp_path / "r" / "report.html").read_text()


def test_failing_part_stops_the_report(cli, samples: Path, tmp_path: Path) -> None:
    r = cli("report", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target",
            "--scoring", "nonsense", "--out", tmp_path / "o")  # fmt: skip
    line = _one_error(r, 2)
    assert line.startswith("error: report part 'importance': unknown scorer 'nonsense'")
    assert not (tmp_path / "o").exists()
