"""inspectcli: what drives a fitted scikit-learn model's predictions, from the shell or Python.

>>> from inspectcli import load_model, load_dataset, partial_dependence, permutation_importance
>>> model = load_model("model.joblib").estimator                      # doctest: +SKIP
>>> X = load_dataset("data.parquet").frame.drop(columns="y")            # doctest: +SKIP
>>> [pd] = partial_dependence(model, X, ["age"], kind="both")           # doctest: +SKIP
"""

__version__ = "0.1.0"

#: Public names, each imported from its module on first use so that `inspect --version` stays fast.
_LAZY = {
    "Execution": "inspectcli.engines.execution",
    "accumulated_local_effects": "inspectcli.engines.ale",
    "coefficients": "inspectcli.engines.coefficients",
    "load_dataset": "inspectcli.loading.data",
    "load_model": "inspectcli.loading.model",
    "partial_dependence": "inspectcli.engines.partial_dependence",
    "permutation_importance": "inspectcli.engines.permutation",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'inspectcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
