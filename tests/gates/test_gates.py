"""The --fail-if grammar and its evaluation, on hand-made results (no model needed)."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager

import numpy as np
import pytest

from inspectcli.cli.handling import cli_message
from inspectcli.engines.permutation import PermutationImportance, ScorerImportances
from inspectcli.errors import GateFailed, UsageError
from inspectcli.gates import evaluate_importance, evaluate_pdp, parse_conditions
from inspectcli.reports.pdp import PDPCurve


def one(text, kind="importance"):
    [cond] = parse_conditions([text], kind).conditions
    return cond


@pytest.mark.parametrize(
    "text, kind, measure, names, op, threshold, scorer, target",
    [
        ("sex > 0.01", "importance", "mean", ("sex",), ">", 0.01, None, None),
        ("sex>0.01", "importance", "mean", ("sex",), ">", 0.01, None, None),
        ("mean(sex) >= -1e-3", "importance", "mean", ("sex",), ">=", -0.001, None, None),
        ("rank(bmi) > 3", "importance", "rank", ("bmi",), ">", 3, None, None),
        ("low(r2:bmi) < 0.05", "importance", "low", ("bmi",), "<", 0.05, "r2", None),
        ("r2:high(bmi) <= 1", "importance", "high", ("bmi",), "<=", 1, "r2", None),
        ("accuracy:sex > 0", "importance", "mean", ("sex",), ">", 0, "accuracy", None),
        ("mean < 0", "importance", "mean", None, "<", 0, None, None),
        ("r2:std > 0.1", "importance", "std", None, ">", 0.1, "r2", None),
        ("'mean radius' > 0.1", "importance", "mean", ("mean radius",), ">", 0.1, None, None),
        ('rank("a, b (x)") > 2', "importance", "rank", ("a, b (x)",), ">", 2, None, None),
        ("'mean' > 0.1", "importance", "mean", ("mean",), ">", 0.1, None, None),
        (r"'it\'s' > 1", "importance", "mean", ("it's",), ">", 1, None, None),
        ("range(age) > 50", "pdp", "range", ("age",), ">", 50, None, None),
        ("range(a, b) > 5", "pdp", "range", ("a", "b"), ">", 5, None, None),
        ("h2(age,bmi) > 0.2", "pdp", "h2", ("age", "bmi"), ">", 0.2, None, None),
        ("range(proline, target=1) > 0.3", "pdp", "range", ("proline",), ">", 0.3, None, "1"),
        ("h2(a,b,target='class a') < 1", "pdp", "h2", ("a", "b"), "<", 1, None, "class a"),
        ("range > 10", "pdp", "range", None, ">", 10, None, None),
        ("abs_change(age) > 0.05", "diff", "abs_change", ("age",), ">", 0.05, None, None),
        ("rank_change > 2", "diff", "rank_change", None, ">", 2, None, None),
        ("r2:change(bmi) < -0.1", "diff", "change", ("bmi",), "<", -0.1, "r2", None),
        ("gap > 0", "diff", "gap", None, ">", 0, None, None),
        ("max_abs_diff(bmi, target=2) > 5", "diff", "max_abs_diff", ("bmi",), ">", 5, None, "2"),
    ],
)
def test_grammar_accepts(text, kind, measure, names, op, threshold, scorer, target):
    c = one(text, kind)
    assert (c.measure, c.names, c.op, c.threshold, c.scorer, c.target) == (
        measure,
        names,
        op,
        threshold,
        scorer,
        target,
    )
    assert c.text == text.strip()


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("sex >> 0.01", "importance", ["character 6", "'>'", "expected a number"]),
        ("sex > ", "importance", ["at the end", "expected a number"]),
        ("sex", "importance", ["expected a comparison"]),
        ("sex == 1", "importance", ["character 5", "'=='", "<, <=, > or >="]),
        ("sex = 1", "importance", ["character 5", "'='"]),
        ("'sex > 1", "importance", ["unterminated quote", "character 1"]),
        ("sex > abc", "importance", ["character 7", "'abc'"]),
        ("sex > nan", "importance", ["'nan'"]),
        ("sex > 1 2", "importance", ["character 9", "'2'"]),
        ("rnak(bmi) > 3", "importance", ["unknown measure 'rnak'", "did you mean 'rank'"]),
        ("rank > 3", "importance", ["rank needs a feature", "rank(bmi)"]),
        ("rank(a,b) > 3", "importance", ["rank() takes 1 feature(s), got 2"]),
        ("rank(bmi > 3", "importance", ["character 10", "expected ',' or ')'"]),
        ("range(bmi) > 3", "importance", ["range() is a measure of pdp results"]),
        ("mean(target=1) > 0", "importance", ["target= selects a class"]),
        ("> 3", "importance", ["character 1", "expected a feature or measure"]),
        ("", "importance", ["empty"]),
        ("age > 50", "pdp", ["'age' is not a measure", "range(age) > 50"]),
        ("h2(age) > 1", "pdp", ["h2() takes 2 feature(s), got 1"]),
        ("r2:range(age) > 1", "pdp", ["'r2:' qualifies a scorer"]),
        ("age > 0.1", "diff", ["'age' is not a measure", "abs_change(age)"]),
        ("mean(age) > 0.1", "diff", ["mean() is a measure of importance results"]),
    ],
)
def test_grammar_rejects_pointing_at_the_token(text, kind, expected):
    with pytest.raises(UsageError) as info:
        valid = {"importance": "sex > 0", "pdp": "range > 1", "diff": "gap > 0"}[kind]
        parse_conditions([valid, text], kind)  # the bad one is found among good ones
    msg = cli_message(info.value)  # as the CLI says it: parameters spelled as flags
    assert msg.startswith("--fail-if "), msg
    assert "\n" not in msg
    for part in expected:
        assert part in msg, (part, msg)
    assert info.value.exit_code == 2


def test_parse_gives_falsy_gates_without_conditions():
    assert not parse_conditions([], "pdp")
    assert len(parse_conditions(["range > 1", "h2 > 0"], "pdp")) == 2
    with pytest.raises(ValueError):
        parse_conditions(["x > 1"], "nonsense")


# --------------------------------------------------------------------------------------------
# importance


def result(**scorers):
    names = ["age", "sex", "grp", "bmi"]
    blocks = [ScorerImportances(s, 0.9, np.asarray(v, dtype=float)) for s, v in scorers.items()]
    return PermutationImportance(
        features=names,
        columns=[["age"], ["sex"], ["s1", "s2"], ["bmi"]],
        scorers=blocks,
        n_repeats=blocks[0].importances.shape[1],
        max_samples=100,
        n_rows=100,
        random_seed=0,
        engine="test",
    )


R2 = [[0.10, 0.12, 0.11, 0.09], [0.02, 0.00, 0.01, 0.01], [-0.02, -0.01, 0.0, -0.01], [0.5, 0.4, 0.45, 0.45]]
MAE = [[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]]


def evaluate(texts, res):
    return evaluate_importance(parse_conditions(texts, "importance"), res)


def test_importance_measures_values():
    res = result(r2=R2)
    report = evaluate(["sex > 0.01", "std(age) > 1", "low(age) < 0", "high(age) > 1", "rank(bmi) > 1"], res)
    vals = [o.value for o in report.outcomes]
    std = float(np.std(R2[0]))
    assert vals[0] == pytest.approx(0.01)
    assert vals[1] == pytest.approx(std)
    assert vals[2] == pytest.approx(0.105 - 2 * std / 2)  # mean − 2·std/√4
    assert vals[3] == pytest.approx(0.105 + 2 * std / 2)
    assert vals[4] == 1
    assert [o.holds for o in report.outcomes] == [False, False, False, False, False]
    assert report.passed
    report.raise_if_failed()  # nothing held: no exception


def test_any_feature_form_reports_the_deciding_feature():
    res = result(r2=R2)
    report = evaluate(["mean < 0", "mean > 0.4", "mean < -1"], res)
    neg, big, never = report.outcomes
    assert neg.holds and neg.subject == ("grp",) and neg.value == pytest.approx(-0.01)
    assert big.holds and big.subject == ("bmi",) and big.value == pytest.approx(0.45)
    assert not never.holds and never.subject == ("grp",)


def test_every_scorer_is_checked_unless_one_is_named():
    res = result(r2=R2, neg_mean_absolute_error=MAE)
    report = evaluate(["sex > 1", "r2:sex > 1", "rank(neg_mean_absolute_error:sex) < 2"], res)
    rows = [(o.condition.text, o.scope, o.holds) for o in report.outcomes]
    assert rows == [
        ("sex > 1", "r2", False),
        ("sex > 1", "neg_mean_absolute_error", True),
        ("r2:sex > 1", "r2", False),
        ("rank(neg_mean_absolute_error:sex) < 2", "neg_mean_absolute_error", True),
    ]
    with pytest.raises(GateFailed) as info:
        report.raise_if_failed()
    msg = cli_message(info.value)  # as the CLI says it: parameters spelled as flags
    assert info.value.exit_code == 1
    assert msg.startswith("2 --fail-if conditions held:")
    assert "'sex > 1': 3 (neg_mean_absolute_error)" in msg and "r2:sex" not in msg


def test_importance_names_are_checked_with_hints():
    res = result(r2=R2)
    with pytest.raises(UsageError, match=r"unknown feature 'sxe' \(did you mean 'sex'\?\)"):
        evaluate(["sxe > 0.1"], res)
    with pytest.raises(
        UsageError, match=r"'s1' is permuted together with s2 as the group 'grp'.*write 'grp'"
    ):
        evaluate(["s1 > 0.1"], res)
    with pytest.raises(UsageError, match=r"no scorer 'accuracy'.*scorers of this run: r2"):
        evaluate(["accuracy:sex > 0.1"], res)


def test_a_feature_name_with_a_colon_needs_no_quotes():
    res = result(r2=R2)
    res.features[0] = "a:b"
    [o] = evaluate(["a:b > 0.1"], res).outcomes
    assert o.subject == ("a:b",) and o.value == pytest.approx(0.105) and o.scope == "r2"


def test_an_undefined_value_counts_as_holding():
    bad = [list(r) for r in R2]
    bad[1] = [math.nan] * 4
    report = evaluate(["sex > 100", "mean > 100", "mean > 0.3"], result(r2=bad))
    a, b, c = report.outcomes
    assert a.value is None and a.holds
    assert b.value is None and b.holds and b.subject == ("sex",)
    assert c.holds and c.subject == ("bmi",)  # decided by a defined value
    assert report.as_json()["conditions"][0]["value"] is None
    with pytest.raises(GateFailed, match="undefined"):
        report.raise_if_failed()


def test_report_json_and_table():
    report = evaluate(["sex > 0.01", "bmi > 0.1"], result(r2=R2))
    doc = report.as_json()
    assert doc["passed"] is False and doc["n_failed"] == 1
    assert doc["conditions"][1] == {
        "condition": "bmi > 0.1",
        "measure": "mean",
        "features": ["bmi"],
        "scorer": "r2",
        "target": None,
        "op": ">",
        "threshold": 0.1,
        "value": pytest.approx(0.45),
        "status": "fail",
    }
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(report.table())
    text = console.export_text()
    assert "1 of 2 condition(s) held" in text and "FAIL" in text and "pass" in text and "scorer" in text


def test_check_importance_before_computing():
    gates = parse_conditions(["s1 > 0.1"], "importance")
    gates.check_importance(["s1", "s2", "bmi"], {}, ["r2"])
    with pytest.raises(UsageError, match="group 'blood'"):
        gates.check_importance(["s1", "s2", "bmi"], {"blood": ["s1", "s2"]}, ["r2"])
    with pytest.raises(UsageError, match="no scorer 'accuracy'"):
        parse_conditions(["accuracy:bmi > 0"], "importance").check_importance(["bmi"], {}, ["r2"])


# --------------------------------------------------------------------------------------------
# pdp


def curve(features, average, target=None, h2=None):
    avg = np.asarray(average, dtype=float)
    return PDPCurve(
        features=tuple(features),
        categorical=(False,) * len(features),
        target=target,
        method="brute",
        engine="batched",
        response_method="predict",
        grid=[np.arange(n, dtype=float) for n in avg.shape],
        average=avg,
        individual=None,
        rows=None,
        h2=h2,
    )


CURVES = [
    curve(["age"], [0.0, 10.0, 4.0]),
    curve(["bmi"], [5.0, 5.0, 65.0]),
    curve(["age", "bmi"], [[0.0, 1.0], [2.0, 3.0]], h2=0.3),
]


def test_pdp_range_and_h2():
    gates = parse_conditions(
        [
            "range(age) > 50",
            "range(bmi) > 50",
            "h2(bmi,age) > 0.2",
            "range > 50",
            "h2 < 0.1",
            "range(age,bmi) > 2",
        ],
        "pdp",
    )
    report = evaluate_pdp(gates, CURVES)
    got = [(o.subject, o.value, o.holds) for o in report.outcomes]
    assert got == [
        (("age",), 10.0, False),
        (("bmi",), 60.0, True),
        (("age", "bmi"), 0.3, True),  # H² is symmetric: either order names the pair
        (("bmi",), 60.0, True),  # any one-way curve; the pair is not a feature's range
        (("age", "bmi"), 0.3, False),
        (("age", "bmi"), 3.0, True),
    ]
    doc = report.as_json()["conditions"][0]
    assert doc["scorer"] is None and doc["target"] is None and doc["measure"] == "range"


def test_pdp_targets_each_class_or_the_one_named():
    curves = [curve(["x"], [0.0, 0.5], target=t) for t in (0, 1)] + [curve(["x"], [0.0, 0.1], target=2)]
    report = evaluate_pdp(parse_conditions(["range(x) > 0.2", "range(x, target=2) > 0.2"], "pdp"), curves)
    assert [(o.scope, o.holds) for o in report.outcomes] == [(0, True), (1, True), (2, False), (2, False)]
    assert report.as_json()["conditions"][1]["target"] == 1
    with pytest.raises(GateFailed, match=r"'range\(x\) > 0.2': 0.5 \(target 0\)"):
        report.raise_if_failed()
    with pytest.raises(UsageError, match="no curve has target '3'"):
        evaluate_pdp(parse_conditions(["range(x, target=3) > 0"], "pdp"), curves)


@contextmanager
def raises_cli(match):
    """A UsageError whose message, as the CLI says it (parameters spelled as flags), matches."""
    with pytest.raises(UsageError) as info:
        yield
    assert re.search(match, cli_message(info.value)), cli_message(info.value)


def test_pdp_names_checked_before_computing():
    gates = parse_conditions(["range(age) > 1"], "pdp")
    gates.check_pdp(["age"], [], ["age", "bmi"], "average")
    with raises_cli(r"unknown feature 'aeg' \(did you mean 'age'\?\)"):
        parse_conditions(["range(aeg) > 1"], "pdp").check_pdp(["age"], [], ["age", "bmi"], "average")
    with raises_cli("computes no curve of 'age' — add -f age"):
        gates.check_pdp(["bmi"], [], ["age", "bmi"], "average")
    with raises_cli("add --pair age,bmi"):
        parse_conditions(["h2(age,bmi) > 1"], "pdp").check_pdp(["age"], [], ["age", "bmi"], "average")
    parse_conditions(["h2(age,bmi) > 1"], "pdp").check_pdp([], [("bmi", "age")], ["age", "bmi"], "both")
    with raises_cli("--kind individual"):
        gates.check_pdp(["age"], [], ["age"], "individual")
    with raises_cli("not among --class 0, 1"):
        parse_conditions(["range(age, target=2) > 1"], "pdp").check_pdp(
            ["age"], [], ["age"], "average", ["0", "1"]
        )
    with raises_cli("needs a pair"):
        parse_conditions(["h2 > 1"], "pdp").check_pdp(["age"], [], ["age"], "average")
