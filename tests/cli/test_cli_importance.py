"""`inspect importance` through the real CLI on the sample models' real files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance as sk_pi

from inspectcli.loading.model import load_model
from tests.conftest import WINE_TRUST


def read_json(path):
    return json.loads(path.read_text())


def test_diabetes_exact_numbers_files_and_clusters(cli, samples, tmp_path):
    r = cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--n-repeats",
        "4",
        "--random-state",
        "3",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "importance.csv",
        "importance.json",
        "importance.png",
    ]
    doc = read_json(tmp_path / "importance.json")
    assert doc["kind"] == "importance" and doc["parameters"]["random_state"] == 3
    [block] = doc["results"]
    assert block["scorer"] == "r2"
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    frame = pd.read_parquet(samples / "diabetes.parquet")
    ref = sk_pi(model, frame.drop(columns="target"), frame["target"], n_repeats=4, random_state=3)
    np.testing.assert_array_equal([f["importances"] for f in block["features"]], ref.importances)
    assert [f["feature"] for f in block["features"]] == list(frame.columns[:-1])  # data order
    assert sorted(f["rank"] for f in block["features"]) == list(range(1, 11))
    csv = pd.read_csv(tmp_path / "importance.csv")
    assert list(csv.columns) == ["scorer", "feature", "columns", "repeat", "importance"] and len(csv) == 40
    assert "s5" in r.stdout and "█" in r.stdout


def test_cluster_threshold_groups_correlated_features(cli, samples, tmp_path):
    r = cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--n-repeats",
        "3",
        "--cluster-threshold",
        "0.5",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "importance.json")
    assert doc["clusters"]["groups"] == {"cluster_1": ["s1", "s2"], "cluster_2": ["s3", "s4"]}
    names = [f["feature"] for f in doc["results"][0]["features"]]
    assert "cluster_1" in names and "s1" not in names
    assert (tmp_path / "correlation.png").exists()
    assert "cluster_1" in r.stdout


def test_cancer_csv_several_scorers_and_target_inferred(cli, samples, tmp_path):
    r = cli(
        "importance",
        samples / "cancer_logreg.joblib",
        samples / "cancer.csv",
        "--scoring",
        "accuracy",
        "--scoring",
        "roc_auc",
        "--n-repeats",
        "3",
        "--max-samples",
        "0.5",
        "--top",
        "5",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    assert "using column 'target' as the target" in r.stderr
    doc = read_json(tmp_path / "importance.json")
    assert [b["scorer"] for b in doc["results"]] == ["accuracy", "roc_auc"]
    assert doc["parameters"]["max_samples_rows"] == 284
    assert len(doc["results"][0]["features"]) == 30  # --top limits the table, not the results


def test_wine_skops_multiclass_with_mdi(cli, samples, tmp_path):
    r = cli(
        "importance",
        samples / "wine_rf.skops",
        samples / "wine.parquet",
        *WINE_TRUST,
        "--target",
        "target",
        "--scoring",
        "neg_log_loss",
        "--n-repeats",
        "3",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "importance.json")
    assert doc["impurity"]["estimator"] == "RandomForestClassifier"
    assert set(doc["impurity"]["values"]) == {f["feature"] for f in doc["results"][0]["features"]}
    assert "MDI" in r.stdout
    # the values are the forest's own feature_importances_, column by column
    forest = load_model(samples / "wine_rf.skops", trust=WINE_TRUST[1:]).estimator
    names = list(forest.feature_names_in_)
    assert list(doc["impurity"]["values"]) == names
    np.testing.assert_array_equal([doc["impurity"]["values"][n] for n in names], forest.feature_importances_)
    # the table shows the same numbers as the JSON (4 significant digits)
    from inspectcli.formatting import fmt

    top = max(names, key=doc["impurity"]["values"].get)
    assert fmt(doc["impurity"]["values"][top]) in r.stdout


def test_bikes_groups_and_compare(cli, samples, tmp_path):
    frame = pd.read_parquet(samples / "bikes.parquet")
    frame.iloc[:3000].to_parquet(tmp_path / "train.parquet")
    frame.iloc[3000:6000].to_csv(tmp_path / "test.csv", index=False)
    r = cli(
        "importance",
        samples / "bikes_hgb.joblib",
        tmp_path / "train.parquet",
        "--target",
        "count",
        "--n-repeats",
        "2",
        "--group",
        "calendar=season,weekday",
        "--compare",
        tmp_path / "test.csv",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "o" / "importance.json")
    feats = doc["results"][0]["features"]
    assert [f["feature"] for f in feats] == ["calendar", "weather", "hour", "temp", "humidity", "windspeed"]
    assert feats[0]["columns"] == ["season", "weekday"]
    assert doc["compare"]["data"]["n_rows"] == 3000
    assert [f["feature"] for f in doc["compare"]["results"][0]["features"]] == [f["feature"] for f in feats]
    assert "test.csv: mean ± std" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--target", "nope"], 3, "column 'nope' given with --target is not in 'diabetes.parquet'"),
        (["--target", "target", "--scoring", "r3"], 2, "unknown scorer 'r3' (did you mean 'r2'"),
        (["--target", "target", "--scoring", "roc_auc"], 2, "is a classification scorer"),
        (["--target", "target", "--n-repeats", "0"], 2, "--n-repeats 0"),
        (["--target", "target", "--max-samples", "1.5"], 2, "--max-samples 1.5 is out of range"),
        (["--target", "target", "--max-samples", "5000"], 2, "out of range: the data has 442 rows"),
        (["--target", "target", "--group", "g=bmi,nope"], 2, "unknown column 'nope'"),
        (["--target", "target", "--group", "g=bmi,bp", "--group", "h=bp,s1"], 2, "is in two groups"),
        (["--target", "bmi"], 2, "is one of the model's input features"),
    ],
)
def test_bad_options(cli, samples, tmp_path, args, code, message):
    r = cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        *args,
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert message in r.stderr
    assert r.err_lines[-1].startswith("error: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_unseen_class_in_target(cli, samples, tmp_path):
    frame = pd.read_parquet(samples / "wine.parquet")
    frame.loc[:4, "target"] = 9
    frame.to_parquet(tmp_path / "w.parquet")
    r = cli(
        "importance",
        samples / "wine_rf.skops",
        tmp_path / "w.parquet",
        *WINE_TRUST,
        "--target",
        "target",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 3
    assert "class(es) the model never saw: '9' (5 rows)" in r.stderr
