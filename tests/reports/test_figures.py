"""The report's figures: hover points lie on what is drawn, ids are unique, output is reproducible."""

from __future__ import annotations

import re

import numpy as np

from inspectcli.formatting import fmt
from inspectcli.reports.html import ReportInput, build_page
from inspectcli.reports.html import figures as fg


def _path_vertices(svg: str, gid: str) -> np.ndarray:
    group = re.search(rf'<g id="{re.escape(gid)}">(.*?)</g>', svg, flags=re.S)
    assert group, gid
    d = re.search(r'<path d="([^"]+)"', group.group(1)).group(1)
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return np.array(nums).reshape(-1, 2)


def _curve(prefix: str = "f1", values=(1.0, 3.0, 2.0, 5.0), ice=None) -> fg.SVGFigure:
    return fg.curve_figure(
        prefix=prefix,
        title="x",
        xlabel="x",
        ylabel="PD",
        grid=[0.0, 1.0, 2.5, 4.0],
        categorical=False,
        lines=[("PD", fg.PD_COLOR, list(values), "-")],
        ice=ice,
        deciles=[0.5, 1.5],
    )


def test_hover_points_are_the_drawn_vertices() -> None:
    fig = _curve()
    drawn = _path_vertices(fig.svg, "f1-line0")
    pts = np.array([(x, y) for x, y, _ in fig.series[0].pts])
    np.testing.assert_allclose(pts, drawn, atol=0.006)
    assert [t for *_, t in fig.series[0].pts] == [
        f"x = {fmt(g)}: PD {fmt(v)}" for g, v in zip([0.0, 1.0, 2.5, 4.0], [1.0, 3.0, 2.0, 5.0])
    ]


def test_heatmap_hover_is_per_cell() -> None:
    z = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    fig = fg.heatmap_figure(
        prefix="h", title="t", xlabel="a", ylabel="b", xgrid=[0, 1], ygrid=[10, 20, 30], values=z,
        value_name="PD",
    )  # fmt: skip
    pts = fig.series[0].pts
    assert len(pts) == 6
    assert pts[5][2] == "a = 1, b = 30: PD 6"
    # cell (1, 2) is right of and above cell (0, 0) in the picture
    assert pts[5][0] > pts[0][0] and pts[5][1] < pts[0][1]


def test_box_hover_text() -> None:
    reps = [[0.1, 0.2, 0.3], [0.5, 0.5, 0.8]]
    fig = fg.box_figure(prefix="b", title="t", xlabel="x", names=["a", "b"], repeats=reps)
    texts = {t.split(":")[0]: t for *_, t in fig.series[0].pts}
    assert texts["b"].startswith(f"b: {fmt(np.mean(reps[1]))} ± {fmt(np.std(reps[1]), 2)}")
    # 'a' is drawn on top (smaller SVG y)
    ys = {t.split(":")[0]: y for _, y, t in fig.series[0].pts}
    assert ys["a"] < ys["b"]


def test_ids_unique_and_output_reproducible() -> None:
    a = _curve("f1", ice=[[0, 1, 2, 3], [1, 1, 1, 1]])
    b = _curve("f2", ice=[[0, 1, 2, 3], [1, 1, 1, 1]])
    ids = re.findall(r'\bid="([^"]+)"', a.svg + b.svg)
    assert len(ids) == len(set(ids)) and "f1-ice" in ids and "f2-ice" in ids
    refs = set(re.findall(r"url\(#([^)]+)\)", a.svg + b.svg)) | set(re.findall(r'href="#([^"]+)"', a.svg))
    assert refs <= set(ids)
    assert _curve("f1", ice=[[0, 1, 2, 3], [1, 1, 1, 1]]).svg == a.svg
    assert "<metadata>" not in a.svg and "Date" not in a.svg


def test_page_escapes_names() -> None:
    """A hostile feature name is text on the page, never markup or script."""
    bad = "</script><img src=x onerror=alert(1)>"
    doc = {
        "schema_version": 2,
        "kind": "importance",
        "tool": {"name": "inspectcli", "version": "0"},
        "model": {"path": "m.joblib", "sha256": "ab" * 32, "class": "X"},
        "data": {"path": "d.csv", "sha256": "cd" * 32, "n_rows": 3, "n_used": 3},
        "parameters": {"n_repeats": 2, "random_state": 0},
        "results": [
            {
                "scorer": "r2",
                "baseline_score": 0.5,
                "features": [
                    {
                        "feature": bad,
                        "columns": [bad],
                        "importances_mean": 0.1,
                        "importances_std": 0.0,
                        "importances": [0.1, 0.1],
                        "rank": 1,
                    },
                ],
            }
        ],
    }
    page = build_page(ReportInput(docs={"importance": doc})).decode()
    assert bad not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # inside the hover JSON, '</' cannot close the script element
    for block in re.findall(r'<script type="application/json" class="hover">(.*?)</script>', page, re.S):
        assert "</" not in block
