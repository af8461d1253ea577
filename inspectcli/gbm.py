"""LightGBM, XGBoost and CatBoost: what each library keeps where, in one place.

The three libraries' scikit-learn-API wrappers (``LGBMRegressor``, ``XGBClassifier``,
``CatBoostRegressor``, ...) are scikit-learn estimators as far as ``partial_dependence`` and
``permutation_importance`` go, but each keeps its feature names, categorical features, version and
built-in importance somewhere of its own:

============  ==========================  ===================================  ==============================
library       feature names               categorical features                 ``feature_importances_``
============  ==========================  ===================================  ==============================
LightGBM      ``feature_name_``           model text ``feature_infos``          ``importance_type``: split
              (``Column_i`` when none)    (a value list, not ``[min:max]``)     count (default) or total gain
XGBoost       ``get_booster()``           ``feature_types == "c"``              ``importance_type``: gain
              ``.feature_names``          (``enable_categorical``)              (default), weight, cover, ...
CatBoost      ``feature_names_``          ``get_cat_feature_indices()``         PredictionValuesChange
              (``"0"``, ``"1"`` … none)   (``cat_features``)                    (LossFunctionChange: ranking)
============  ==========================  ===================================  ==============================

None of this module imports a library at import time: it looks at the module of the object it is
given, so a model of a library that is not installed never reaches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: The float32 rule, in the JSON of PDs of XGBoost models (and the README).
FLOAT32_AVERAGE_NOTE = (
    "XGBoost predicts in float32: each partial dependence is the float64 mean of the model's own "
    "float32 predictions (exact for what the model outputs); scikit-learn's partial_dependence "
    "averages them in float32 and differs by ~1e-7 relative. ICE values are the predictions, identical"
)


@dataclass(frozen=True)
class Library:
    """A gradient-boosting library: import name, name to show, pip extra."""

    module: str
    title: str
    extra: str

    @property
    def pip(self) -> str:
        return f"pip install 'inspectcli[{self.extra}]'"


LIBRARIES: dict[str, Library] = {
    "lightgbm": Library("lightgbm", "LightGBM", "lightgbm"),
    "xgboost": Library("xgboost", "XGBoost", "xgboost"),
    "catboost": Library("catboost", "CatBoost", "catboost"),
}


def library_of_object(obj: Any) -> str | None:
    """'lightgbm' / 'xgboost' / 'catboost' when ``obj`` is one of theirs, else None."""
    root = type(obj).__module__.split(".")[0]
    return root if root in LIBRARIES else None


def library_of(estimator: Any) -> str | None:
    """The library of the model's final estimator (through pipelines and target wrappers)."""
    from inspectcli.introspect import unwrap_final

    return library_of_object(unwrap_final(estimator))


def installed_version(library: str) -> str | None:
    """The installed version of ``library``, or None when it is not installed."""
    import importlib

    try:
        module = importlib.import_module(library)
    except ImportError:
        return None
    return str(getattr(module, "__version__", "unknown"))


def _auto_names(names: list[str], library: str) -> bool:
    """True for the names a library makes up when it was fitted on an array."""
    if library == "lightgbm":
        return names == [f"Column_{i}" for i in range(len(names))]
    if library == "catboost":
        return names == [str(i) for i in range(len(names))]
    return False


def feature_names(est: Any) -> list[str] | None:
    """Input column names the library recorded for a bare model, or None (fitted on an array)."""
    lib = library_of_object(est)
    if lib is None:
        return None
    names: Any = None
    if lib == "catboost":
        names = getattr(est, "feature_names_", None)
    elif lib == "lightgbm":
        names = getattr(est, "feature_names_in_", None)
    elif lib == "xgboost":
        try:
            names = est.get_booster().feature_names
        except Exception:
            names = None
    if names is None:
        return None
    names = [str(n) for n in names]
    return None if not names or _auto_names(names, lib) else names


def n_features(est: Any) -> int | None:
    """How many columns a bare model reads (CatBoost reports ``n_features_in_ == 0`` once pickled)."""
    lib = library_of_object(est)
    if lib == "catboost":
        names = getattr(est, "feature_names_", None)
        return len(names) if names is not None else None
    if lib == "xgboost":
        try:
            return int(est.get_booster().num_features())
        except Exception:
            return None
    if lib == "lightgbm":
        n = getattr(est, "n_features_", None)
        return int(n) if n is not None else None
    return None


def _lightgbm_categorical(est: Any) -> list[int]:
    """Indices of the features LightGBM treats as categorical, from the model text."""
    booster = getattr(est, "booster_", None) or est
    text = booster.model_to_string(num_iteration=0)
    match = re.search(r"^feature_infos=(.*)$", text, flags=re.MULTILINE)
    if match is None:
        return []
    infos = match.group(1).split(" ")
    # numeric: [min:max]; unused: none; categorical: the category codes seen, joined with ':'
    return [i for i, info in enumerate(infos) if not info.startswith("[") and info != "none"]


def categorical_features(est: Any) -> list[str]:
    """Names of the input columns a bare LightGBM / XGBoost / CatBoost model splits as categories."""
    lib = library_of_object(est)
    if lib is None:
        return []
    names = feature_names(est)
    if names is None:
        n = n_features(est) or 0
        names = [str(i) for i in range(n)]
    idx: list[int] = []
    try:
        if lib == "lightgbm":
            idx = _lightgbm_categorical(est)
        elif lib == "xgboost":
            types = est.get_booster().feature_types or []
            idx = [i for i, t in enumerate(types) if t == "c"]
        elif lib == "catboost":
            idx = [int(i) for i in est.get_cat_feature_indices()]
    except Exception:
        return []
    return [names[i] for i in idx if i < len(names)]


def categorical_passthrough(estimator: Any) -> list[str]:
    """Input columns a final LightGBM / XGBoost / CatBoost model splits as categories.

    A bare model: all its categorical features. In a pipeline: those the model knows by the name of
    one of the pipeline's input columns that no encoder of the first step takes, i.e. columns
    passed through unchanged (a ColumnTransformer's ``remainder="passthrough"`` with
    ``verbose_feature_names_out=False``, a FunctionTransformer, ...).
    """
    from inspectcli.introspect import encoded_inputs, expected_features, unwrap_final

    est = unwrap_final(estimator)
    cats = categorical_features(est)
    if est is estimator or not cats:
        return cats
    names = expected_features(estimator)
    if names is None or expected_features(est) is None:
        return []
    encoded = encoded_inputs(estimator)
    return [c for c in cats if c in names and c not in encoded]


def lightgbm_categories(est: Any) -> dict[str, list[Any]]:
    """The categories LightGBM recorded for pandas ``category`` columns (``pandas_categorical``)."""
    booster = getattr(est, "booster_", None) or est
    saved = getattr(booster, "pandas_categorical", None)
    if not saved:
        return {}
    cats = categorical_features(est)
    return {c: list(v) for c, v in zip(cats, saved)}


def as_model_categories(estimator: Any, X: Any, notes: list[str]) -> Any:
    """Text columns a LightGBM / XGBoost model splits as categories, as pandas ``category`` columns.

    Both libraries take categorical columns only with the ``category`` dtype, which CSV files (and
    Parquet files written from text columns) do not carry. LightGBM's categories are set to the
    ones it saved (``pandas_categorical``, in its order, which its codes refer to); XGBoost's to the
    ones it stored (>= 3.1: it re-codes by value itself). CatBoost takes text as it is.
    """
    import pandas as pd

    from inspectcli.introspect import unwrap_final

    est = unwrap_final(estimator)
    lib = library_of_object(est)
    if lib not in ("lightgbm", "xgboost") or not hasattr(X, "columns"):
        return X
    cats = categorical_passthrough(estimator)
    known = lightgbm_categories(est) if lib == "lightgbm" else xgboost_categories(est)
    changed = []
    out = X
    for col in cats:
        if col not in X.columns or isinstance(X[col].dtype, pd.CategoricalDtype):
            continue
        s = X[col]
        if pd.api.types.is_numeric_dtype(s) and (lib == "xgboost" or col not in known):
            # XGBoost takes codes as numbers; LightGBM too when fitted on codes, not categories
            continue
        if out is X:
            out = X.copy()
        levels = known.get(col)
        if (
            levels is not None
            and len(levels)
            and not isinstance(levels[0], str)
            and not pd.api.types.is_numeric_dtype(s)
        ):
            levels = None
        out[col] = pd.Categorical(s, categories=levels) if levels is not None else pd.Categorical(s)
        changed.append(col)
    if changed:
        title = LIBRARIES[lib].title
        notes.append(f"reading {', '.join(changed)} as categories, as the {title} model splits them as such")
    return out


def xgboost_categories(est: Any) -> dict[str, list[Any]]:
    """The categories XGBoost (>= 3.1) stored for its categorical features, in training order."""
    try:
        stored = est.get_booster().get_categories(export_to_arrow=True).to_arrow()
    except Exception:  # older XGBoost: none stored
        return {}
    return {str(name): arr.to_pylist() for name, arr in stored if arr is not None}


@dataclass(frozen=True)
class BuiltinImportance:
    """What a library's ``feature_importances_`` measures."""

    label: str  # short, for a table column: "split count", "gain", "PredictionValuesChange"
    title: str  # for a plot: "LightGBM split count (training data)"
    library: str


def builtin_importance(est: Any) -> BuiltinImportance | None:
    """The meaning of a LightGBM / XGBoost / CatBoost model's ``feature_importances_``.

    LightGBM counts splits (``importance_type="split"``, its default) or sums their gain;
    XGBoost's scikit-learn API reports normalised ``importance_type`` (gain by default for trees);
    CatBoost's default ``FeatureImportance`` is PredictionValuesChange (LossFunctionChange for
    ranking losses).
    """
    lib = library_of_object(est)
    if lib is None:
        return None
    title = LIBRARIES[lib].title
    if lib == "lightgbm":
        kind = str(getattr(est, "importance_type", "split") or "split")
        label = {"split": "split count", "gain": "total gain"}.get(kind, kind)
    elif lib == "xgboost":
        kind = getattr(est, "importance_type", None)
        if _xgboost_booster(est) == "gblinear":
            # a linear booster's only importance: its coefficients (signed), normalised to sum 1
            return BuiltinImportance(
                "coefficient", f"{title} gblinear coefficient (normalised to sum 1)", lib
            )
        kind = kind or "gain"
        label = {"gain": "gain", "weight": "weight (split count)", "cover": "cover"}.get(kind, str(kind))
    else:
        label = "PredictionValuesChange"
        try:
            loss = str(est.get_all_params().get("loss_function", ""))
        except Exception:
            loss = ""
        if any(key in loss for key in ("YetiRank", "PairLogit", "QueryRMSE", "QuerySoftMax", "Lambda")):
            label = "LossFunctionChange"
    shares = ", normalised to sum 1" if lib == "xgboost" else ""
    return BuiltinImportance(label=label, title=f"{title} {label} (training data{shares})", library=lib)


def feature_importances(est: Any) -> Any:
    """A model's ``feature_importances_`` as a 1-D float array, or None when it has none.

    CatBoost keeps them only on models it fitted (or unpickled from one it fitted): a model read
    by ``load_model`` (a ``.cbm`` file, an MLflow folder) reports ``array(None)``. Its
    PredictionValuesChange is then computed from the trees, which is what fitting stored (it needs
    no data); LossFunctionChange (ranking losses) needs the training data, so there is none.
    """
    import numpy as np

    values = getattr(est, "feature_importances_", None)
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 and library_of_object(est) == "catboost":
        label = builtin_importance(est)
        if label is not None and label.label == "PredictionValuesChange":
            try:
                arr = np.asarray(est.get_feature_importance())
            except Exception:
                return None
    if arr.ndim != 1 or arr.dtype == object:
        return None
    return arr.astype(float)


def _xgboost_booster(est: Any) -> str | None:
    """'gbtree', 'dart' or 'gblinear': the parameter, else the model's own configuration."""
    import json

    name = getattr(est, "booster", None)
    if name:
        return str(name)
    try:
        return str(json.loads(est.get_booster().save_config())["learner"]["gradient_booster"]["name"])
    except Exception:
        return None


def saved_version_of_object(est: Any) -> str | None:
    """The library version recorded inside a loaded model, where the library records one."""
    lib = library_of_object(est)
    if lib == "catboost":
        try:
            info = est.get_metadata()["catboost_version_info"]
        except Exception:
            return None
        match = re.search(r"tags/v(\d+\.\d+(?:\.\d+)?)", str(info))
        return match.group(1) if match else None
    return None
