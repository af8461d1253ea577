"""`inspect info MODEL [DATA]`: what the model is, what it expects, and whether DATA fits it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.handling import cli_message, cli_text, handle_errors


def _rounded(values: Any) -> str:
    """A few predictions as a reader wants them: [20.48, 21.92] rather than 17 digits each."""
    from inspectcli.formatting import label

    if isinstance(values, (list, tuple)):
        return "[" + ", ".join(label(v) for v in values) + "]"
    return label(values)


def _table_model(m: dict[str, Any]) -> Any:
    from rich.table import Table

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
    builtin = m.get("builtin_importance")
    t.add_row("built-in importance", builtin if m["has_feature_importances"] and builtin else "no")
    t.add_row("file", f"{m['format']}, {m['size_bytes']:,} bytes")
    t.add_row("sha256", m["sha256"])
    lib = m.get("library")
    if lib is not None:
        from inspectcli.gbm import LIBRARIES

        text = f"{LIBRARIES[lib['name']].title} {lib['version'] or '(not installed)'} installed"
        saved = lib["saved_version"]
        if saved is None:
            text += "; the file does not record the version that saved it"
        elif saved != lib["version"]:
            text += f"; saved with {saved}: results may differ from the original"
        else:
            text += "; saved with the same version"
        t.add_row("library", text)
    if m["sklearn_version_saved"] is not None:
        t.add_row("saved with", f"scikit-learn {m['sklearn_version_saved']}")
    return t


def _table_data(d: dict[str, Any]) -> Any:
    from rich.table import Table
    from rich.text import Text

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
            trial = f" on a trial of rows, e.g. {_rounded(p['first'])}"
            t.add_row("prediction", Text.assemble(("works", "green"), trial))
        else:
            t.add_row("prediction", Text.assemble(("fails", "red"), f": {p['error']}"))
    t.add_row("sha256", d["sha256"] or "—")
    return t


def with_flags(result: Any) -> Any:
    """An InfoRun whose notes and error name flags (``--strict``), as the CLI says them."""
    result.model["notes"] = [cli_text(n) for n in result.model["notes"]]
    if result.data is not None:
        result.data["notes"] = [cli_text(n) for n in result.data["notes"]]
        if result.problem is not None:
            result.data["prediction"]["error"] = cli_message(result.problem)
    return result


def register(app: typer.Typer) -> None:
    @app.command("info")
    @handle_errors
    @o.shared(o.LOADING_MODEL, o.MESSAGE_FLAGS)
    def info(
        model: o.ModelArg,
        data: o.OptionalDataArg = None,
        target: o.Target = None,
        json_out: o.JsonOut = False,
        load: o.LoadFlags = o.LoadFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """What MODEL is and expects; with DATA, whether DATA fits it (exit 3 when it does not).

        Example: inspect info model.joblib data.parquet --target y
        """
        ui = messages.ui(json_mode=json_out)
        from inspectcli.workflows.info import run_info

        result = with_flags(run_info(load.source(model, data, target), ui))
        facts, data_facts = result.model, result.data
        ui.show(_table_model(facts))
        if data_facts is not None:
            ui.show(_table_data(data_facts))
        if json_out:
            from inspectcli.results import to_json_bytes

            ui.json(to_json_bytes(result.document()))
        result.raise_problem()
