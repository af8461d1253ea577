"""inspectcli: what drives a fitted scikit-learn model's predictions, from the shell or Python.

>>> from inspectcli import load_model, load_dataset, partial_dependence, permutation_importance
>>> model = load_model("model.joblib").estimator                      # doctest: +SKIP
>>> X = load_dataset("data.parquet").frame.drop(columns="y")            # doctest: +SKIP
>>> [pd] = partial_dependence(model, X, ["age"], kind="both")           # doctest: +SKIP
"""

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "accumulated_local_effects",
    "coefficients",
    "load_dataset",
    "load_model",
    "partial_dependence",
    "permutation_importance",
]


def __getattr__(name: str):  # lazy: `inspect --version` stays fast
    if name == "load_model":
        from inspectcli.loading.model import load_model

        return load_model
    if name == "load_dataset":
        from inspectcli.loading.data import load_dataset

        return load_dataset
    if name == "partial_dependence":
        from inspectcli.engines.partial_dependence import partial_dependence

        return partial_dependence
    if name == "coefficients":
        from inspectcli.engines.coefficients import coefficients

        return coefficients
    if name == "accumulated_local_effects":
        from inspectcli.engines.ale import accumulated_local_effects

        return accumulated_local_effects
    if name == "permutation_importance":
        from inspectcli.engines.permutation import permutation_importance

        return permutation_importance
    raise AttributeError(f"module 'inspectcli' has no attribute {name!r}")
