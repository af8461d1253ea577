"""Build the deterministic sample models and datasets used by the demo, tests and benchmarks.

Only data that scikit-learn ships, or synthetic data, is used; every seed is fixed, so two runs
produce the same models and the same data files. Artifacts are written next to this file (or to
the directory given as the first argument) and are git-ignored.

    python sample_models/build.py [OUT_DIR] [--only NAME ...]

| file                                 | model                                              |
|--------------------------------------|----------------------------------------------------|
| diabetes_hgb.joblib + diabetes.parquet | HistGradientBoostingRegressor, 10 numeric features |
| cancer_logreg.joblib + cancer.csv    | Pipeline(StandardScaler, LogisticRegression)       |
| wine_rf.skops + wine.parquet         | RandomForestClassifier, 3 classes, saved with skops |
| bikes_hgb.joblib + bikes.parquet     | Pipeline(ColumnTransformer(OneHotEncoder, passthrough), HGB) |
| friedman_hgb.joblib + friedman.parquet | HistGradientBoostingRegressor on make_friedman1 50,000 x 10 |
| bikes_lgbm.joblib, bikes_lgbm.txt    | LGBMRegressor, season/weekday/weather categorical  |
| bikes_xgb.joblib, bikes_xgb.json     | XGBRegressor, enable_categorical (same columns)    |

The LightGBM and XGBoost models are built when those libraries are installed (the dev extra has
them); they read bikes.parquet, whose text columns inspect turns into the categories they split on.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent

SEASONS = ["winter", "spring", "summer", "fall"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEATHERS = ["clear", "cloudy", "rain", "snow"]


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    df.to_parquet(path, index=False, engine="pyarrow")


def build_diabetes(out: Path) -> None:
    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target
    model = HistGradientBoostingRegressor(random_state=0).fit(X, y)
    joblib.dump(model, out / "diabetes_hgb.joblib")
    _write_parquet(X.assign(target=y), out / "diabetes.parquet")


def build_cancer(out: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    model = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression(max_iter=1000))]).fit(X, y)
    joblib.dump(model, out / "cancer_logreg.joblib")
    X.assign(target=y).to_csv(out / "cancer.csv", index=False)


def build_wine(out: Path) -> None:
    import skops.io as sio

    data = load_wine(as_frame=True)
    X, y = data.data, data.target
    model = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(X, y)
    sio.dump(model, out / "wine_rf.skops")
    _write_parquet(X.assign(target=y), out / "wine.parquet")


def make_bikes(n_rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """A bike-rental-like table with real interactions (hour x weekday, temp x weather)."""
    rng = np.random.default_rng(seed)
    season = rng.choice(SEASONS, size=n_rows)
    weekday = rng.choice(WEEKDAYS, size=n_rows)
    hour = rng.integers(0, 24, size=n_rows)
    season_temp = {"winter": 5.0, "spring": 15.0, "summer": 26.0, "fall": 14.0}
    temp = np.array([season_temp[s] for s in season]) + rng.normal(0, 5, n_rows)
    # Weather depends on the season (snow only when cold): correlated inputs, as in real data.
    p_weather = {
        "winter": [0.40, 0.30, 0.15, 0.15],
        "spring": [0.50, 0.30, 0.20, 0.00],
        "summer": [0.65, 0.20, 0.15, 0.00],
        "fall": [0.45, 0.35, 0.20, 0.00],
    }
    weather = np.array([rng.choice(WEATHERS, p=p_weather[s]) for s in season])
    humidity = np.clip(55 + 20 * np.isin(weather, ["rain", "snow"]) + rng.normal(0, 12, n_rows), 5, 100)
    windspeed = np.clip(rng.gamma(2.0, 6.0, n_rows), 0, 60)

    workday = ~np.isin(weekday, ["sat", "sun"])
    commute = np.exp(-0.5 * ((hour - 8) / 1.2) ** 2) + 1.2 * np.exp(-0.5 * ((hour - 17.5) / 1.5) ** 2)
    leisure = np.exp(-0.5 * ((hour - 14) / 3.0) ** 2)
    daily = np.where(workday, 250 * commute + 40 * leisure, 180 * leisure + 20 * commute)
    night = 0.15 + 0.85 / (1 + np.exp(-(hour - 6.0) * 1.5)) / (1 + np.exp((hour - 22.0) * 1.5))
    temp_effect = np.exp(-0.5 * ((temp - 24) / 9.0) ** 2)
    weather_effect = np.select(
        [weather == "clear", weather == "cloudy", weather == "rain"], [1.0, 0.85, 0.45], 0.25
    )
    # Rain hurts more when it is cold: a temp x weather interaction.
    weather_effect = weather_effect * np.where(weather == "rain", 0.6 + 0.02 * np.clip(temp, 0, 20), 1)
    season_effect = np.select(
        [season == "winter", season == "spring", season == "summer"], [0.7, 1.0, 1.1], 1.0
    )
    rate = 20 + daily * night * temp_effect * weather_effect * season_effect * (
        1 - 0.004 * (humidity - 50)
    ) * (1 - 0.006 * windspeed)
    count = rng.poisson(np.clip(rate, 1, None)).astype(float)
    return pd.DataFrame(
        {
            "season": season,
            "weekday": weekday,
            "weather": weather,
            "hour": hour.astype(np.int64),
            "temp": np.round(temp, 1),
            "humidity": np.round(humidity, 1),
            "windspeed": np.round(windspeed, 1),
            "count": count,
        }
    )


def build_bikes(out: Path) -> None:
    df = make_bikes()
    X, y = df.drop(columns="count"), df["count"]
    categorical = ["season", "weekday", "weather"]
    numeric = ["hour", "temp", "humidity", "windspeed"]
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("onehot", OneHotEncoder(handle_unknown="ignore"), categorical),
                        ("numeric", "passthrough", numeric),
                    ],
                    sparse_threshold=0.0,
                ),
            ),
            ("hgb", HistGradientBoostingRegressor(max_iter=200, random_state=0)),
        ]
    ).fit(X, y)
    joblib.dump(model, out / "bikes_hgb.joblib")
    _write_parquet(df, out / "bikes.parquet")


def build_friedman(out: Path) -> None:
    X, y = make_friedman1(n_samples=50_000, n_features=10, noise=1.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    model = HistGradientBoostingRegressor(random_state=0).fit(df, y)
    joblib.dump(model, out / "friedman_hgb.joblib")
    _write_parquet(df.assign(y=y), out / "friedman.parquet")


def _bikes_categorical() -> tuple[pd.DataFrame, pd.Series]:
    df = make_bikes()
    X, y = df.drop(columns="count"), df["count"]
    for col, levels in (("season", SEASONS), ("weekday", WEEKDAYS), ("weather", WEATHERS)):
        X[col] = pd.Categorical(X[col], categories=levels)
    return X, y


def build_bikes_gbm(out: Path) -> None:
    """LightGBM and XGBoost on the bikes data, categorical columns split natively."""
    try:
        import lightgbm as lgb
        import xgboost as xgb
    except ImportError:
        print("skipping bikes_gbm: pip install 'inspectcli[lightgbm,xgboost]'")
        return
    X, y = _bikes_categorical()
    lgbm = lgb.LGBMRegressor(n_estimators=200, num_leaves=31, random_state=0, n_jobs=1, verbose=-1)
    lgbm.fit(X, y, categorical_feature=["season", "weekday", "weather"])
    joblib.dump(lgbm, out / "bikes_lgbm.joblib")
    lgbm.booster_.save_model(out / "bikes_lgbm.txt")
    xgbm = xgb.XGBRegressor(
        n_estimators=200,
        max_depth=6,
        learning_rate=0.1,
        enable_categorical=True,
        tree_method="hist",
        n_jobs=1,
    ).fit(X, y)
    joblib.dump(xgbm, out / "bikes_xgb.joblib")
    xgbm.save_model(out / "bikes_xgb.json")


BUILDERS: dict[str, Callable[[Path], None]] = {
    "diabetes": build_diabetes,
    "cancer": build_cancer,
    "wine": build_wine,
    "bikes": build_bikes,
    "friedman": build_friedman,
    "bikes_gbm": build_bikes_gbm,
}


def build_all(out: Path = HERE, only: list[str] | None = None, verbose: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, builder in BUILDERS.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        builder(out)
        if verbose:
            print(f"built {name:<9} in {time.perf_counter() - start:5.1f} s -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(HERE), help="output directory")
    parser.add_argument("--only", nargs="*", choices=sorted(BUILDERS), help="build only these")
    args = parser.parse_args()
    build_all(Path(args.out), args.only)


if __name__ == "__main__":
    main()
