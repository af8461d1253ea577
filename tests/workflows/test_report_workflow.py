"""run_report as a library call: the parts it runs, the page from its documents, library spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspectcli.errors import UsageError
from inspectcli.reports.html import ReportInput, build_page
from inspectcli.workflows import Collected, ReportOptions, Source, run_report
from inspectcli.workflows.report import FILES

SMALL = {"top_k": 3, "top_pairs": 2, "n_repeats": 2, "ice_lines": 5, "grid_resolution": 8, "pair_rows": 60}


def test_run_report_on_a_linear_model(samples: Path) -> None:
    notes = Collected()
    run = run_report(
        Source(samples / "cancer_logreg.joblib", str(samples / "cancer.csv"), target="target"),
        ReportOptions(**SMALL, subsample=120),
        report=notes,
    )
    assert {name: p.status for name, p in run.parts.items()} == {
        "info": "done",
        "importance": "done",
        "pdp": "done",
        "ale": "done",
        "h2": "done",
        "coefficients": "done",
    }
    assert sorted(run.files()) == sorted(
        ["info.json", "importance.json", "pdp.json", "ale.json", "interactions.json", "coefficients.json",
         "report.json", "report.html"]
    )  # fmt: skip
    # the page is a pure function of the documents and the manifest
    again = build_page(ReportInput(run.documents, run.manifest, {k: FILES[k] for k in run.documents}))
    assert again == run.page
    # notes in the library's spelling, each part named
    pdp_notes = run.manifest["parts"]["pdp"]["notes"]
    assert any(n.startswith("using 120 rows") and "(`subsample`, seed 0)" in n for n in pdp_notes)
    assert [f"pdp: {n}" for n in pdp_notes] == [m for m in notes.messages if m.startswith("pdp: ")]


def test_options_checked_before_any_work(samples: Path) -> None:
    with pytest.raises(UsageError, match="top_k=0"):
        run_report(Source("no-such-model.joblib", "no-data.csv"), ReportOptions(top_k=0))
