"""What a model is and expects, and whether a data file fits it (`inspect info`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspectcli.errors import InspectError, ValidationError
from inspectcli.loading.model import LoadedModel
from inspectcli.workflows._inputs import Collected, Reporter, Source, load_source_model


def describe_model(loaded: LoadedModel) -> dict[str, Any]:
    """The facts `inspect info` reports about a model, as plain data."""
    from inspectcli.engines.trees import supports_tree_paths
    from inspectcli.engines.trees.grid import pd_prefers_predicting
    from inspectcli.introspect import (
        categorical_inputs,
        expected_features,
        final_estimator,
        n_features_in,
        pipeline_steps,
        qualified_name,
        response_methods,
        supports_recursion,
        task_of,
    )

    est = loaded.estimator
    task = task_of(est)
    names = expected_features(est)
    cats = categorical_inputs(est)
    features = None
    if names is not None:
        features = [{"name": n, "kind": "categorical" if n in cats else "numeric"} for n in names]
    methods = ["brute"]
    if supports_recursion(est):
        methods.append("recursion")
    fast = [
        m
        for m in ("predict", "predict_proba", "decision_function")
        if hasattr(est, m) and bool(supports_tree_paths(est, m)) and not pd_prefers_predicting(est, m)
    ]
    from inspectcli.gbm import builtin_importance, feature_importances
    from inspectcli.results import library_block

    kind = builtin_importance(final_estimator(est))
    has_fi = feature_importances(final_estimator(est)) is not None
    builtin = (kind.title if kind is not None else "MDI (training data)") if has_fi else None
    return {
        "path": loaded.path,
        "format": loaded.format,
        "sha256": loaded.sha256,
        "size_bytes": loaded.size_bytes,
        "class": qualified_name(est),
        "final_estimator": qualified_name(final_estimator(est)),
        "steps": pipeline_steps(est),
        "task": task.kind,
        "classes": task.classes,
        "n_outputs": task.n_outputs,
        "n_features_in": n_features_in(est),
        "features": features,
        "response_methods": response_methods(est),
        "pdp_methods": methods,
        "tree_path_engine": fast,
        "has_feature_importances": has_fi,
        "builtin_importance": builtin,
        "sklearn_version_saved": loaded.sklearn_version_saved,
        "library": library_block(loaded),
        "notes": list(loaded.notes),
    }


def describe_data(loaded: LoadedModel, source: Source) -> tuple[dict[str, Any], InspectError | None]:
    """How ``source.data`` fits the model: rows, used / missing / extra columns, a trial prediction."""
    import numpy as np

    from inspectcli.introspect import expected_features
    from inspectcli.loading.data import open_data
    from inspectcli.loading.match import prepare
    from inspectcli.loading.probe import check_predicts
    from inspectcli.results import jsonable

    est, target = loaded.estimator, source.target
    assert source.data is not None
    names = expected_features(est)
    opened = open_data(source.data, sep=source.sep, encoding=source.encoding, decimal=source.decimal)
    # Only the model's columns (and the target) are read; the others are known from the schema.
    # (the model's inputs as one float64 block, as every workflow reads them: loading/sources.FloatBlock)
    block = names if names is not None else [c for c in opened.columns if c != target]
    data = opened.read(None if names is None else [*names, *([target] if target else [])], block=block)
    cols = list(data.columns_in_file)
    facts: dict[str, Any] = {
        "path": data.path,
        "format": data.format,
        "sha256": data.sha256,
        "n_rows": data.n_rows,
        "n_columns": len(cols),
        "target": target,
        "used": [c for c in cols if (names is None or c in names) and c != target],
        "missing": [c for c in (names or []) if c not in cols],
        "extra": [c for c in cols if names is not None and c not in names and c != target],
        "prediction": None,
        "notes": list(data.notes),
    }
    problem: InspectError | None = None
    try:
        prepared = prepare(est, data, target=target, min_rows=1)
        facts["notes"].extend(prepared.notes)
        pred = np.asarray(check_predicts(est, prepared, data.name))
        facts["prediction"] = {
            "ok": True,
            "shape_per_row": list(pred.shape[1:]),
            "first": jsonable(pred[:3].tolist()),
        }
    except InspectError as exc:
        problem = exc
        facts["prediction"] = {"ok": False, "error": str(exc)}
    return facts, problem


@dataclass
class InfoRun:
    """What :func:`run_info` returns: facts about the model and data, and the problem found, if any."""

    source: Source
    loaded: LoadedModel
    model: dict[str, Any]
    data: dict[str, Any] | None
    problem: InspectError | None

    def document(self) -> dict[str, Any]:
        """The `info --json` document."""
        import sklearn

        from inspectcli import __version__
        from inspectcli.results import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "info",
            "tool": {"name": "inspectcli", "version": __version__},
            "sklearn_version": sklearn.__version__,
            "model": self.model,
            "data": self.data,
        }

    def raise_problem(self) -> None:
        """The data's problem as an error: a failed trial prediction, or missing columns."""
        if self.problem is not None:
            raise self.problem
        if self.data is not None and self.data["missing"]:
            raise ValidationError(
                f"'{self.source.data}' lacks columns the model expects: {self.data['missing']}",
                "give data with the columns the model was trained on",
            )


def run_info(source: Source, report: Reporter | None = None) -> InfoRun:
    """Facts about ``source.model``, and with ``source.data``, whether the data fits it.

    Parameters
    ----------
    source : Source
        The model file (and optionally the data file, with ``target`` and CSV options).
    report : Reporter, default=Collected()
        Where the model's warnings and the data's notes go as they are found.

    Returns
    -------
    InfoRun
    """
    report = report or Collected()
    loaded = load_source_model(source)
    for note in loaded.notes:
        report.warn(note)
    facts = describe_model(loaded)
    data_facts, problem = None, None
    if source.data is not None:
        data_facts, problem = describe_data(loaded, source)
        for note in data_facts["notes"]:
            report.note(note)
    return InfoRun(source, loaded, facts, data_facts, problem)
