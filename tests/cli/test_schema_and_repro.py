"""Published JSON Schemas validate every JSON the tool writes; reruns are byte-identical; CI logs
get plain text."""

from __future__ import annotations

import hashlib
import json
import re

import joblib
import jsonschema
import numpy as np
import pandas as pd
import pytest

from inspectcli.results import SCHEMA_VERSION
from inspectcli.schemas import KINDS, load_schema, validate
from tests.conftest import WINE_TRUST

#: sha256 of the schema files (canonical JSON) for each schema_version. A change of a schema
#: is a change of the format: bump SCHEMA_VERSION in inspectcli/results.py (and the schemas'
#: "schema_version" const), then record the new fingerprint here.
#: A schema for a new kind of file changes no existing format: its fingerprint replaces the old one
#: under the same version (as when ale and coefficients were added to version 1).
FINGERPRINTS = {
    1: "35aa010bcea5b167ab24d7ccf384dcfbd9c9f01bc5fcbadffb80e53d2c15ce73",
    # 2: pdp.json and importance.json gain a top-level "notes" list
    2: "f7bddd5e069e838ca1b31e43ecf07d183c864a14b7119c4fa841ea51947d875b",
    # 3: data gains format, files, where and sample (issue #19)
    # 3 (+ interactions.json, a new kind of file)
    3: "54cdf1b20482228172e23ab0a8877b9903752195e94f7410ae85b8740c21a874",
    # 4: model.library (LightGBM / XGBoost / CatBoost), info's builtin_importance, impurity.kind
    4: "247273a3f7d0640a3b33cd98100efa1834d0f1ff3141c164e645203277f9cd53",
    # 5: uncertainty bands: pdp/ale entries gain se and bootstrap, diff curves the noise judgement
    5: "b32e9bfb0437e564720acfd760d4d38826dacae266495eeac977fa41aeb8232c",
    # 6: pdp/ale entries gain "group" (--by), pdp entries "clusters" (--ice-clusters), diff's "group"
    6: "c3d96b78dcb91d5a2f6360cf8e5369cc0a50081cbf4b5b2270a3c9f02924ad91",
    # 7: data gains dask_data (workers-read | scatter), present only for --backend dask runs
    7: "aec3144e8306605db6ac5c376b712fc127d18894f991e3caff8de6fa8858a6af",
}
SHARED = ("tool", "model", "data", "gates", "scalar", "values")


def fingerprint() -> str:
    canon = json.dumps({k: load_schema(k) for k in KINDS}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def test_schema_command_prints_each_schema(cli):
    for kind in KINDS:
        r = cli("schema", kind)
        assert r.exit_code == 0, r.stderr
        schema = json.loads(r.stdout)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema == load_schema(kind)
        assert schema["properties"]["schema_version"] == {
            "const": SCHEMA_VERSION,
            "description": "changes whenever the layout of this file changes",
        }
        assert schema["properties"]["kind"] == {"const": kind}
    r = cli("schema", "importanse")
    assert r.exit_code == 2 and "did you mean 'importance'" in r.stderr


def test_schemas_share_their_common_parts():
    schemas = [load_schema(k) for k in ("pdp", "importance", "diff")]
    for name in SHARED:
        assert schemas[0]["$defs"][name] == schemas[1]["$defs"][name] == schemas[2]["$defs"][name], name
    assert load_schema("info")["$defs"]["tool"] == schemas[0]["$defs"]["tool"]
    for kind in ("ale", "coefficients"):  # no --fail-if, so no gates; one-dimensional curves
        defs = load_schema(kind)["$defs"]
        assert "gates" not in defs and "gates" not in load_schema(kind)["properties"]
        for name in ("tool", "model", "data", "scalar"):
            assert defs[name] == schemas[0]["$defs"][name], (kind, name)


def test_a_schema_change_comes_with_a_new_schema_version():
    assert FINGERPRINTS.get(SCHEMA_VERSION) == fingerprint(), (
        "the JSON Schemas changed: bump SCHEMA_VERSION and record the new fingerprint "
        f"{fingerprint()} in FINGERPRINTS"
    )


# --------------------------------------------------------------------------------------------
# every JSON the tool writes


def write_small_models(base):
    """Models and data for the shapes the sample models do not give: a multiclass linear model
    (wine), a TransformedTargetRegressor after one-hot and polynomial features (a feature of no
    input, features of several, a level some refits lack), an HGB model with missing values, an
    ordered categorical, a boolean and a weight column."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.datasets import load_wine
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

    wine = load_wine(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(wine.data, wine.target)
    joblib.dump(model, base / "wine_logreg.joblib")
    wine.data.assign(target=wine.target).to_parquet(base / "wine.parquet")

    rng = np.random.default_rng(0)
    n = 90
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = np.where(a > 0, "up", "down").astype(object)
    c[0] = "rare"
    y = np.exp(1 + 0.3 * a - 0.2 * b + 0.1 * (c == "up") + rng.normal(0, 0.1, n))
    X = pd.DataFrame({"a": a, "b": b, "c": c})
    pre = ColumnTransformer(
        [("oh", OneHotEncoder(handle_unknown="ignore"), ["c"]), ("poly", PolynomialFeatures(2), ["a", "b"])]
    )
    ttr = make_pipeline(pre, TransformedTargetRegressor(Ridge(), func=np.log, inverse_func=np.exp))
    joblib.dump(ttr.fit(X, y), base / "ttr.joblib")
    X.assign(y=y, w=rng.uniform(0.5, 2, n)).to_parquet(base / "ttr.parquet")

    x = a.copy()
    x[::9] = np.nan
    size = pd.Categorical(np.where(b > 0.5, "L", np.where(b > -0.5, "M", "S")), ["S", "M", "L"], ordered=True)
    X = pd.DataFrame({"x": x, "size": size, "flag": b > 0})
    hgb = HistGradientBoostingRegressor(max_iter=10, categorical_features="from_dtype")
    joblib.dump(hgb.fit(X, y), base / "hgb.joblib")
    X.assign(y=y, w=rng.uniform(0.5, 2, n)).to_parquet(base / "hgb.parquet")


@pytest.fixture(scope="module")
def outputs(samples, tmp_path_factory):
    """(description, parsed JSON) of every kind of file and stdout JSON the commands write."""
    from tests.cli.test_cli_diff import invoke

    base = tmp_path_factory.mktemp("schema_runs")
    write_small_models(base)
    found = []

    def run(name, *args, code=0, stdout=False):
        out = base / name
        r = invoke(*args, "--quiet", *([] if stdout else ["--out", out]))
        assert r.exit_code == code, (name, r.stderr)
        if stdout:
            found.append((name, json.loads(r.stdout)))
        else:
            for path in sorted(out.glob("*.json")):
                found.append((f"{name}/{path.name}", json.loads(path.read_text())))
        return out

    d = [samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    wine = [samples / "wine_rf.skops", samples / "wine.parquet", *WINE_TRUST, "--target", "target"]
    run("info-model", "info", samples / "diabetes_hgb.joblib", "--json", stdout=True)
    run("info-data", "info", *wine, "--json", stdout=True)
    run(
        "info-mismatch",
        "info",
        samples / "diabetes_hgb.joblib",
        samples / "wine.parquet",
        "--json",
        code=3,
        stdout=True,
    )
    pdp_gated = [*d, "-f", "bmi,sex", "--pair", "bmi,s5", "--grid-resolution", "6", "--no-plot"]
    run(
        "pdp-ice",
        "pdp",
        *pdp_gated,
        "--kind",
        "both",
        "--ice-lines",
        "4",
        "--centered",
        "--rank",
        "--fail-if",
        "range > 1e9",
    )
    run(
        "pdp-3way",
        "pdp",
        *d,
        "--pair",
        "age,bmi,s5",
        "--grid-resolution",
        "3",
        "--no-plot",
        "--format",
        "json",
    )
    run(
        "pdp-classes",
        "pdp",
        *wine,
        "-f",
        "proline",
        "--grid-resolution",
        "4",
        "--no-plot",
        "--fail-if",
        "range > 0.01",
        code=1,
    )
    run(
        "interactions-gated",
        "interactions",
        *wine,
        "--rows",
        "12",
        "--top-k",
        "3",
        "--no-plot",
        "--fail-if",
        "h2 > 2",
    )
    imp = [*d, "-r", "2", "--no-plot"]
    run(
        "imp-gated",
        "importance",
        *imp,
        "--group",
        "blood=s1,s2",
        "--fail-if",
        "blood > 10",
        "--fail-if",
        "mean < 0",
    )
    run(
        "imp-clusters",
        "importance",
        *imp,
        "--cluster-threshold",
        "0.5",
        "--compare",
        samples / "diabetes.parquet",
    )
    run(
        "imp-mdi",
        "importance",
        *wine,
        "-r",
        "2",
        "--no-plot",
        "--scoring",
        "accuracy",
        "--scoring",
        "neg_log_loss",
    )
    imp_file = base / "imp-gated" / "importance.json"
    run("diff-not-comparable", "diff", base / "imp-clusters" / "importance.json", imp_file, code=3)  # no file
    run("diff-imp", "diff", imp_file, imp_file, "--fail-if", "gap > 0", "--json", stdout=True)
    pdp_file = base / "pdp-ice" / "pdp.json"
    run("diff-pdp", "diff", pdp_file, pdp_file, "--fail-if", "max_abs_diff >= 0", code=1)

    ale = ["--bins", "3", "--no-plot"]
    run("ale-pdp", "ale", *d, "-f", "bmi,sex", *ale, "--with-pdp", "--subsample", "200")
    bikes = [samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count", *ale]
    run("ale-bikes", "ale", *bikes, "-f", "season,weather,temp", "--subsample", "300")
    run("ale-order", "ale", *bikes, "-f", "season", "--order", "season=winter,spring,summer,fall")
    run("ale-classes", "ale", *wine, "-f", "proline", *ale, "--with-pdp")
    hgb = [base / "hgb.joblib", base / "hgb.parquet", "--target", "y", "--sample-weight", "w"]
    run("ale-missing", "ale", *hgb, "-f", "x,size,flag", *ale, "--json", stdout=True)

    cancer = [samples / "cancer_logreg.joblib", samples / "cancer.csv", "--no-plot"]
    run("coef-binary", "coefficients", *cancer)
    run("coef-binary-cv", "coefficients", *cancer, "--target", "target", "--cv", "2", "-r", "1")
    wine_lr = [base / "wine_logreg.joblib", base / "wine.parquet", "--target", "target", "--no-plot"]
    run("coef-multiclass", "coefficients", *wine_lr, "--cv", "2", "-r", "1")
    run("coef-class", "coefficients", *wine_lr, "--class", "2", "--json", stdout=True)
    ttr = [base / "ttr.joblib", base / "ttr.parquet", "--target", "y", "--sample-weight", "w", "--no-plot"]
    run("coef-ttr", "coefficients", *ttr, "--cv", "3", "-r", "1")
    return found


def test_every_json_written_validates(outputs):
    kinds = {doc["kind"] for _, doc in outputs}
    assert kinds == set(KINDS)
    gated = {doc["kind"] for _, doc in outputs if "gates" in doc}
    assert gated == {"pdp", "importance", "diff", "interactions"}
    for name, doc in outputs:
        try:
            validate(doc)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {list(exc.absolute_path)}")
    names = [n for n, _ in outputs]
    assert (
        "diff-pdp/diff.json" in names and "info-mismatch" in names and "imp-clusters/importance.json" in names
    )


def test_ale_and_coefficients_runs_give_every_shape(outputs):
    docs = dict(outputs)
    ale = [e for n, d in outputs if d["kind"] == "ale" for e in d["results"]]
    assert {e["order"] for e in ale} == {None, "similarity", "given", "categories"}
    assert {type(e["target"]) for e in ale} == {type(None), int}
    assert any("pdp" in e for e in ale) and any("pdp" not in e for e in ale)
    assert any(e["n_missing"] > 0 for e in ale)
    assert {type(v) for e in ale for v in e["grid"][0]} == {float, str, bool}
    assert {e["response_method"] for e in ale} == {"predict", "predict_proba"}
    assert docs["ale-missing"]["parameters"]["sample_weight"] == "w"

    rows = [
        (d["parameters"], e, c)
        for n, d in outputs
        if d["kind"] == "coefficients"
        for e in d["results"]
        for c in e["coefficients"]
    ]
    assert any("cv" in c for _, _, c in rows) and any("cv" not in c for _, _, c in rows)
    assert {e["target"] for _, e, _ in rows} == {None, 0, 1, 2}
    assert any(None in c.get("cv", []) for _, _, c in rows)  # a fold lacked the rare level
    assert any(c["sources"] == [] for _, _, c in rows) and any(len(c["sources"]) > 1 for _, _, c in rows)
    assert any(c["one_hot"] for _, _, c in rows)
    assert docs["coef-ttr/coefficients.json"]["parameters"]["target_transform"] == "numpy.log"


def test_the_schemas_are_strict(outputs):
    doc = next(d for n, d in outputs if n == "imp-gated/importance.json")
    for broken in (
        {**doc, "surprise": 1},
        {k: v for k, v in doc.items() if k != "elapsed_s"},
        {**doc, "schema_version": SCHEMA_VERSION + 1},
        {**doc, "results": [{**doc["results"][0], "extra": True}]},
        {**doc, "gates": {**doc["gates"], "passed": "yes"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)
    with pytest.raises(jsonschema.ValidationError, match="no schema"):
        validate({"kind": "nonsense"})


def broken_variants(doc, edits):
    """``doc`` with its first results entry changed by each (key, value) of ``edits`` (... drops key)."""
    for key, value in edits:
        entry = dict(doc["results"][0])
        if value is ...:
            del entry[key]
        else:
            entry[key] = value
        yield {**doc, "results": [entry, *doc["results"][1:]]}


def test_the_ale_schema_is_strict(outputs):
    doc = next(d for n, d in outputs if n == "ale-pdp/ale.json")
    validate(doc)
    for broken in (
        {**doc, "surprise": 1},
        {**doc, "gates": {"passed": True, "n_failed": 0, "conditions": []}},  # ale has no --fail-if
        {k: v for k, v in doc.items() if k != "model"},
        *broken_variants(
            doc,
            [
                ("extra", True),
                ("counts", ["89"]),
                ("counts", [-1]),
                ("order", "random"),
                ("grid", [doc["results"][0]["grid"][0]] * 2),
                ("features", ["bmi", "sex"]),
                ("pdp", [1.0]),
                ("n_missing", ...),
                ("response_method", "predict_log_proba"),
            ],
        ),
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_the_coefficients_schema_is_strict(outputs):
    doc = next(d for n, d in outputs if n == "coef-binary-cv/coefficients.json")
    validate(doc)
    row = doc["results"][0]["coefficients"][0]
    without_flags = {k: v for k, v in row.items() if k not in ("sign_flips", "unstable")}
    for broken in (
        {**doc, "surprise": 1},
        {k: v for k, v in doc.items() if k != "notes"},
        {**doc, "notes": "none"},
        *broken_variants(
            doc,
            [
                ("extra", True),
                ("target", [1]),
                ("intercept", "0.2"),
                ("coefficients", []),
                ("coefficients", [{**row, "coefficient": "large"}]),
                ("coefficients", [{**row, "feature_std": -1.0}]),
                ("coefficients", [{**row, "cv": [0.1]}]),
                ("coefficients", [without_flags]),  # the cv_* keys come together
                ("coefficients", [{k: v for k, v in row.items() if k != "source"}]),
                ("coefficients", [{**row, "rank": 1}]),
            ],
        ),
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


# --------------------------------------------------------------------------------------------
# reproducibility


def without_elapsed(data: bytes) -> bytes:
    stripped, n = re.subn(rb'\n  "elapsed_s": [0-9.e+-]+\n', b"\n", data)
    assert n == 1
    return stripped


DIABETES = ("diabetes_hgb.joblib", "diabetes.parquet", "target")
PDP_ARGS = ["-f", "bmi,sex", "--pair", "bmi,s5", "--kind", "both", "--ice-lines", "5", "--method", "brute"]
PDP_ARGS += ["--subsample", "200", "--grid-resolution", "6", "--fail-if", "range(bmi) > 1"]
IMP_ARGS = ["-r", "2", "--cluster-threshold", "0.5", "--max-samples", "200", "--fail-if", "mean < 0"]
ALE_ARGS = ["-f", "bmi,sex", "--bins", "5", "--with-pdp", "--subsample", "200"]
COEF_ARGS = ["--cv", "3", "-r", "2"]


@pytest.mark.parametrize(
    "command, inputs, extra",
    [
        ("pdp", DIABETES, PDP_ARGS),
        ("importance", DIABETES, IMP_ARGS),
        ("ale", DIABETES, ALE_ARGS),
        ("coefficients", ("cancer_logreg.joblib", "cancer.csv", "target"), COEF_ARGS),
    ],
)
def test_same_seed_gives_byte_identical_files(cli, samples, tmp_path, command, inputs, extra):
    model, data, target = inputs
    base = [command, samples / model, samples / data, "--target", target]
    base += [*extra, "--random-state", "7", "--no-plot", "-q"]
    files = {}
    for name, jobs in (("a", "1"), ("b", "1"), ("c", "2")):
        r = cli(*base, "--n-jobs", jobs, "--out", tmp_path / name)
        assert r.exit_code in (0, 1), r.stderr
        files[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    assert sorted(files["a"]) == [f"{command}.csv", f"{command}.json"]
    for name in ("b", "c"):
        assert files[name][f"{command}.csv"] == files["a"][f"{command}.csv"], name
        assert without_elapsed(files[name][f"{command}.json"]) == without_elapsed(
            files["a"][f"{command}.json"]
        ), name
    assert json.loads(files["a"][f"{command}.json"])["parameters"]["random_state"] == 7


# --------------------------------------------------------------------------------------------
# terminal output in CI logs


def test_quiet_leaves_stderr_empty(cli, samples, tmp_path):
    args = ["pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    args += ["--grid-resolution", "4", "--no-plot", "--out", tmp_path]
    r = cli(*args)
    assert (
        r.exit_code == 0 and "note: no -f/--features given" in r.stderr and "partial dependence" in r.stdout
    )
    r = cli(*args, "--quiet")  # quiet silences messages, not the result table on stdout
    assert r.exit_code == 0 and r.stderr == "" and "partial dependence" in r.stdout
    r = cli(*args, "--quiet", "-f", "bmm")
    assert r.exit_code == 2 and r.err_lines == [
        "error: --features: unknown feature 'bmm' (did you mean 'bmi'?) — features are: age, sex, bmi, bp, "
        "s1, s2, s3, s4, s5, s6"
    ]


def test_no_escape_codes_without_a_terminal_or_with_no_color(cli, samples, tmp_path):
    args = ["pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    args += ["-f", "bmi", "--grid-resolution", "4", "--out", tmp_path, "--fail-if", "range(bmi) > 1"]
    plain = cli(*args)
    forced = cli(*args, env={"FORCE_COLOR": "1", "INSPECT_NO_PROGRESS": ""})
    no_color = cli(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "INSPECT_NO_PROGRESS": ""})
    assert plain.exit_code == forced.exit_code == no_color.exit_code == 1
    assert "\x1b" in forced.stdout  # a terminal would get colours (so the check below means something)
    for r in (plain, no_color):
        assert "\x1b" not in r.stdout and "\x1b" not in r.stderr
        assert "FAIL" in r.stdout and r.stderr.startswith("note:")
    # no progress bar either: stderr is not a terminal even when FORCE_COLOR says so
    assert "\x1b[?25l" not in forced.stderr and "\r" not in forced.stderr  # a live display hides the cursor
