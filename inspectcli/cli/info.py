"""`inspect info MODEL [DATA]`: what the model is, what it expects, and whether DATA fits it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table
from rich.text import Text

from inspectcli.cli import options as o
from inspectcli.cli.console import UI
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import InspectError, ValidationError
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
from inspectcli.loading.data import open_data
from inspectcli.loading.match import check_predicts, prepare
from inspectcli.loading.model import LoadedModel, load_model
from inspectcli.results import SCHEMA_VERSION, jsonable, to_json_bytes


def _tree_paths(est: Any, method: str) -> bool:
    from inspectcli.engines.trees import supports_tree_paths

    return bool(supports_tree_paths(est, method))


def describe_model(loaded: LoadedModel) -> dict[str, Any]:
    """The facts `inspect info` reports about a model, as plain data."""
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
        if hasattr(est, m) and _tree_paths(est, m)
    ]
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
        "has_feature_importances": hasattr(final_estimator(est), "feature_importances_"),
        "sklearn_version_saved": loaded.sklearn_version_saved,
        "notes": loaded.notes,
    }


def describe_data(
    loaded: LoadedModel,
    data_path: str,
    *,
    target: str | None,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
) -> tuple[dict[str, Any], InspectError | None]:
    """How DATA fits the model: rows, used / missing / extra columns, a trial prediction."""
    est = loaded.estimator
    names = expected_features(est)
    source = open_data(data_path, sep=sep, encoding=encoding, decimal=decimal)
    # Only the model's columns (and the target) are read; the others are known from the schema.
    data = source.read(None if names is None else [*names, *([target] if target else [])])
    cols = list(data.columns_in_file)
    facts: dict[str, Any] = {
        "path": data.path,
        "format": data.format,
        "sha256": data.sha256,
        "n_rows": data.n_rows,
        "n_columns": len(cols),
        "target": target,
        "used": [c for c in cols if names is None or c in names],
        "missing": [c for c in (names or []) if c not in cols],
        "extra": [c for c in cols if names is not None and c not in names and c != target],
        "prediction": None,
        "notes": list(data.notes),
    }
    if target is not None:
        facts["used"] = [c for c in facts["used"] if c != target]
    problem: InspectError | None = None
    try:
        prepared = prepare(est, data, target=target, min_rows=1)
        facts["notes"].extend(prepared.notes)
        pred = check_predicts(est, prepared, data.name)
        pred = np.asarray(pred)
        facts["prediction"] = {
            "ok": True,
            "shape_per_row": list(pred.shape[1:]),
            "first": jsonable(pred[:3].tolist()),
        }
    except InspectError as exc:
        problem = exc
        facts["prediction"] = {"ok": False, "error": str(exc)}
    return facts, problem


def _table_model(m: dict[str, Any]) -> Table:
    t = Table(title=f"model  {Path(m['path']).name}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("class", m["class"])
    if m["steps"]:
        t.add_row("steps", " → ".join(f"{s['name']} ({s['class'].rsplit('.', 1)[-1]})" for s in m["steps"]))
    t.add_row("task", m["task"] + (f"  classes: {m['classes']}" if m["classes"] is not None else ""))
    if m["n_outputs"]:
        t.add_row("outputs", str(m["n_outputs"]))
    if m["features"] is not None:
        feats = ", ".join(f["name"] + ("*" if f["kind"] == "categorical" else "") for f in m["features"])
        t.add_row(f"features ({len(m['features'])})", feats + ("   (* categorical)" if "*" in feats else ""))
    else:
        t.add_row("features", f"{m['n_features_in']} unnamed (fitted on an array)")
    t.add_row("predicts with", ", ".join(m["response_methods"]))
    pdp = ", ".join(m["pdp_methods"])
    if m["tree_path_engine"]:
        pdp += "  (brute uses the fast tree-path engine)"
    t.add_row("pdp methods", pdp)
    t.add_row("impurity importance", "yes" if m["has_feature_importances"] else "no")
    t.add_row("file", f"{m['format']}, {m['size_bytes']:,} bytes")
    t.add_row("sha256", m["sha256"])
    t.add_row("saved with", f"scikit-learn {m['sklearn_version_saved']}")
    return t


def _table_data(d: dict[str, Any]) -> Table:
    t = Table(title=f"data  {d['path']}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("rows × columns", f"{d['n_rows']:,} × {d['n_columns']}")
    if d["target"]:
        t.add_row("target", d["target"])
    t.add_row(f"used ({len(d['used'])})", ", ".join(d["used"]) or "—")
    if d["missing"]:
        t.add_row(Text(f"missing ({len(d['missing'])})", style="red"), ", ".join(d["missing"]))
    if d["extra"]:
        t.add_row(f"extra ({len(d['extra'])})", ", ".join(d["extra"]) + "  (ignored)")
    p = d["prediction"]
    if p is not None:
        if p["ok"]:
            t.add_row(
                "prediction", Text.assemble(("works", "green"), f" on a trial of rows, e.g. {p['first']}")
            )
        else:
            t.add_row("prediction", Text.assemble(("fails", "red"), f": {p['error']}"))
    t.add_row("sha256", d["sha256"] or "—")
    return t


def register(app: typer.Typer) -> None:
    @app.command("info")
    @handle_errors
    def info(
        model: o.ModelArg,
        data: o.OptionalDataArg = None,
        target: o.Target = None,
        trust: o.Trust = None,
        sha256: o.Sha256 = None,
        no_pickle: o.NoPickle = False,
        strict: o.Strict = False,
        sep: o.Sep = None,
        encoding: o.Encoding = None,
        decimal: o.Decimal = None,
        json_out: o.JsonOut = False,
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """What MODEL is and expects; with DATA, whether DATA fits it (exit 3 when it does not).

        Example: inspect info model.joblib data.parquet --target y
        """
        ui = UI(quiet=quiet, verbose=verbose, json_mode=json_out)
        loaded = load_model(
            model, trust=trust or (), sha256=sha256, allow_pickle=False if no_pickle else None, strict=strict
        )
        for note in loaded.notes:
            ui.warn(note)
        facts = describe_model(loaded)
        data_facts, problem = None, None
        if data is not None:
            data_facts, problem = describe_data(
                loaded, data, target=target, sep=sep, encoding=encoding, decimal=decimal
            )
            for note in data_facts["notes"]:
                ui.note(note)
        ui.show(_table_model(facts))
        if data_facts is not None:
            ui.show(_table_data(data_facts))
        if json_out:
            import sklearn

            from inspectcli import __version__

            doc = {
                "schema_version": SCHEMA_VERSION,
                "kind": "info",
                "tool": {"name": "inspectcli", "version": __version__},
                "sklearn_version": sklearn.__version__,
                "model": facts,
                "data": data_facts,
            }
            ui.json(to_json_bytes(doc))
        if problem is not None:
            raise problem
        if data_facts is not None and data_facts["missing"]:
            raise ValidationError(
                f"'{data}' lacks columns the model expects: {data_facts['missing']}",
                "give data with the columns the model was trained on",
            )
