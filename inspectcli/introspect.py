"""What a fitted estimator is: its task, outputs, expected columns and which engines apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import is_classifier, is_regressor


@dataclass(frozen=True)
class Task:
    """The prediction task of a fitted estimator."""

    #: regression | multi-output regression | binary | multiclass | multi-output classification | other
    kind: str
    classes: list[Any] | None = None
    n_outputs: int | None = None

    @property
    def is_classifier(self) -> bool:
        return self.kind in ("binary", "multiclass", "multi-output classification")


def qualified_name(obj: Any) -> str:
    """'sklearn.ensemble.HistGradientBoostingRegressor' for an instance (public module path)."""
    cls = type(obj)
    module = cls.__module__
    parts = module.split(".")
    # sklearn.ensemble._hist_gradient_boosting.gradient_boosting -> sklearn.ensemble
    public = []
    for part in parts:
        if part.startswith("_"):
            break
        public.append(part)
    return ".".join([*public, cls.__qualname__]) if public else f"{module}.{cls.__qualname__}"


def default_feature_names(n_features: int) -> list[str]:
    """Names of unnamed columns: ``['x0', 'x1', …]`` (the one place they are made)."""
    return [f"x{i}" for i in range(n_features)]


def final_estimator(estimator: Any) -> Any:
    """The last step of a (nested) pipeline, or the estimator itself."""
    while hasattr(estimator, "steps") and isinstance(estimator.steps, list) and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def first_step(estimator: Any) -> Any:
    """The first step of a (nested) pipeline, or the estimator itself."""
    while hasattr(estimator, "steps") and isinstance(estimator.steps, list):
        estimator = estimator.steps[0][1]
    return estimator


def unwrap_final(estimator: Any) -> Any:
    """The final estimator, also looking through TransformedTargetRegressor-like wrappers."""
    est = final_estimator(estimator)
    for attr in ("regressor_", "estimator_", "classifier_"):
        inner = getattr(est, attr, None)
        if inner is not None and hasattr(inner, "predict"):
            return final_estimator(inner)
    return est


def pipeline_steps(estimator: Any) -> list[dict[str, str]]:
    """[{name, class}] for each pipeline step (nested pipelines flattened with '/')."""
    steps: list[dict[str, str]] = []

    def walk(est: Any, prefix: str) -> None:
        if hasattr(est, "steps") and isinstance(getattr(est, "steps", None), list):
            for name, step in est.steps:
                walk(step, f"{prefix}{name}/")
        else:
            steps.append({"name": prefix.rstrip("/") or type(est).__name__, "class": qualified_name(est)})

    if hasattr(estimator, "steps") and isinstance(getattr(estimator, "steps", None), list):
        walk(estimator, "")
    return steps


def _n_outputs_regressor(estimator: Any) -> int | None:
    for est in (estimator, final_estimator(estimator), unwrap_final(estimator)):
        n = getattr(est, "n_outputs_", None)
        if isinstance(n, (int, np.integer)):
            return int(n)
        coef = getattr(est, "coef_", None)
        if isinstance(coef, np.ndarray):
            return 1 if coef.ndim == 1 else int(coef.shape[0])
        estimators = getattr(est, "estimators_", None)
        if type(est).__name__ in ("MultiOutputRegressor", "RegressorChain") and estimators:
            return len(estimators)
        n = _gbm_n_outputs(est)
        if n is not None:
            return n
    return None


def _gbm_n_outputs(est: Any) -> int | None:
    """Outputs of a fitted XGBoost or CatBoost regressor (multi-target, multi-quantile), which keep
    no ``n_outputs_``; None when unknown."""
    lib = type(est).__module__.split(".")[0]
    try:
        if lib == "xgboost" and hasattr(est, "get_booster"):
            import json

            config = json.loads(est.get_booster().save_config())
            return int(config["learner"]["learner_model_param"]["num_target"])
        if lib == "catboost" and hasattr(est, "get_scale_and_bias") and est.is_fitted():
            bias = est.get_scale_and_bias()[1]  # one bias per output (a list for MultiRMSE & co)
            return len(bias) if isinstance(bias, (list, tuple)) else 1
    except Exception:  # unfitted, or a version without these: unknown
        return None
    return None


def task_of(estimator: Any) -> Task:
    """Regression / binary / multiclass / multi-output, with classes when known."""
    if is_classifier(estimator):
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            return Task("other")
        if isinstance(classes, list) and classes and isinstance(classes[0], np.ndarray):
            return Task("multi-output classification", None, len(classes))
        classes = list(np.asarray(classes).tolist())
        return Task("binary" if len(classes) == 2 else "multiclass", classes, 1)
    if is_regressor(estimator):
        n = _n_outputs_regressor(estimator)
        if n is not None and n > 1:
            return Task("multi-output regression", None, n)
        return Task("regression", None, n)
    return Task("other")


def expected_features(estimator: Any) -> list[str] | None:
    """Column names the estimator was fitted on, when it knows them."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        from inspectcli.gbm import feature_names

        # CatBoost keeps its names in feature_names_ only
        return feature_names(first_step(estimator))
    return [str(n) for n in names]


def n_features_in(estimator: Any) -> int | None:
    n = getattr(estimator, "n_features_in_", None)
    if not n:
        from inspectcli.gbm import n_features

        # CatBoost reports n_features_in_ == 0 once unpickled; its names tell the count
        n = n_features(first_step(estimator)) or n
    return int(n) if n is not None else None


def _encoders(obj: Any) -> bool:
    names = {"OneHotEncoder", "OrdinalEncoder", "TargetEncoder"}
    if type(obj).__name__ in names:
        return True
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list):
        return any(_encoders(s) for _, s in steps)
    return False


def categorical_inputs(estimator: Any) -> set[str]:
    """Input columns the model treats as categorical, where its structure says so.

    Columns routed to an encoder by a ColumnTransformer at the start of a pipeline, columns a
    HistGradientBoosting model treats natively as categorical, and columns a LightGBM / XGBoost /
    CatBoost model splits as categories (bare, or reached by name through a pipeline's pass-through).
    """
    found = encoded_inputs(estimator)
    est = final_estimator(estimator)
    mask = getattr(est, "is_categorical_", None)
    names = expected_features(est)
    if mask is not None and names is not None and est is estimator:
        found.update(n for n, m in zip(names, mask) if m)
    from inspectcli.gbm import categorical_passthrough

    # LightGBM categorical_feature, XGBoost enable_categorical, CatBoost cat_features
    found.update(categorical_passthrough(estimator))
    return found


def encoded_inputs(estimator: Any) -> set[str]:
    """Input columns routed to an encoder (one-hot, ordinal, target) by a pipeline's first step."""
    found: set[str] = set()
    first = first_step(estimator)
    transformers = getattr(first, "transformers_", None)
    if transformers is not None:
        names_in = expected_features(first) or []
        for _, trans, cols in transformers:
            if trans in ("drop", "passthrough") or not _encoders(trans):
                continue
            for c in np.atleast_1d(cols):
                if isinstance(c, (int, np.integer)) and names_in:
                    found.add(names_in[int(c)])
                elif isinstance(c, (bool, np.bool_)):
                    continue
                else:
                    found.add(str(c))
    elif _encoders(first):
        found.update(expected_features(first) or [])
    return found


def supports_recursion(estimator: Any) -> bool:
    """scikit-learn's rule: which bare estimators its 'recursion' PDP method accepts (the registry)."""
    from inspectcli.families import applies

    return applies("recursion", estimator)


def response_methods(estimator: Any) -> list[str]:
    """Prediction methods the estimator offers, in scikit-learn's order of preference."""
    return [
        m
        for m in ("predict", "predict_proba", "decision_function", "predict_log_proba")
        if hasattr(estimator, m)
    ]


#: Final estimators whose prediction for a row never depends on the other rows in the call:
#: tree traversals summed in a fixed order. BLAS-based models (linear, SVM, KNN, MLP) can round
#: a row differently (by an ulp) depending on its position in the batch.
ROW_EXACT_ESTIMATORS = (
    "DecisionTreeRegressor",
    "DecisionTreeClassifier",
    "ExtraTreeRegressor",
    "ExtraTreeClassifier",
    "RandomForestRegressor",
    "RandomForestClassifier",
    "ExtraTreesRegressor",
    "ExtraTreesClassifier",
    "GradientBoostingRegressor",
    "GradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "HistGradientBoostingClassifier",
)
#: Transformers that work element by element or column by column without BLAS.
ROW_EXACT_TRANSFORMERS = (
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "OneHotEncoder",
    "OrdinalEncoder",
    "SimpleImputer",
    "MissingIndicator",
    "KBinsDiscretizer",
)


def _row_exact_transformer(obj: Any) -> bool:
    if obj in ("passthrough", "drop", None):
        return True
    name = type(obj).__name__
    if name == "ColumnTransformer":
        return all(_row_exact_transformer(t) for _, t, _ in getattr(obj, "transformers_", []))
    if name == "Pipeline":
        return all(_row_exact_transformer(s) for _, s in obj.steps)
    if name == "FeatureUnion":
        return all(_row_exact_transformer(t) for _, t in obj.transformer_list)
    if name == "FunctionTransformer" and getattr(obj, "func", None) is None:
        return True  # identity, e.g. a ColumnTransformer's remainder="passthrough"
    return name in ROW_EXACT_TRANSFORMERS and type(obj).__module__.startswith("sklearn.")


def row_exact(estimator: Any) -> bool:
    """True when stacking rows into one call gives every row bit-identical predictions.

    Then predictions of stacked copies can stand in for separate calls with no change at all.
    """
    steps = estimator.steps if type(estimator).__name__ == "Pipeline" else [(None, estimator)]
    *pre, (_, final) = steps
    if type(final).__name__ not in ROW_EXACT_ESTIMATORS or not type(final).__module__.startswith("sklearn."):
        return False
    return all(_row_exact_transformer(s) for _, s in pre)


def encoder_categories(estimator: Any) -> dict[str, list[Any]]:
    """{input column: its categories in the model's order} from the encoders a pipeline starts with.

    Read from ``categories_`` of a OneHotEncoder / OrdinalEncoder that a ColumnTransformer at the
    start of a pipeline routes named columns to (nested pipelines included), or that starts the
    pipeline itself. Columns no encoder names are absent.
    """
    found: dict[str, list[Any]] = {}

    def from_encoder(enc: Any, cols: list[str]) -> None:
        while hasattr(enc, "steps") and isinstance(enc.steps, list):
            enc = next((s for _, s in enc.steps if hasattr(s, "categories_")), None)
            if enc is None:
                return
        cats = getattr(enc, "categories_", None)
        if cats is None or len(cats) != len(cols):
            return
        for name, values in zip(cols, cats):
            found.setdefault(name, [v for v in np.asarray(values).tolist() if v == v])  # NaN dropped

    first = first_step(estimator)
    transformers = getattr(first, "transformers_", None)
    if transformers is not None:
        names_in = expected_features(first) or []
        for _, trans, cols in transformers:
            if trans in ("drop", "passthrough"):
                continue
            named = []
            for c in np.atleast_1d(cols):
                if isinstance(c, (bool, np.bool_)):
                    named = []
                    break
                if isinstance(c, (int, np.integer)):
                    if not names_in:
                        named = []
                        break
                    named.append(names_in[int(c)])
                else:
                    named.append(str(c))
            if named:
                from_encoder(trans, named)
    elif hasattr(first, "categories_"):
        from_encoder(first, expected_features(first) or [])
    return found
