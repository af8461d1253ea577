"""The commands as library calls: typed options in, result objects (and the JSON document) out.

>>> from inspectcli.workflows import Source, PdpOptions, run_pdp            # doctest: +SKIP
>>> run = run_pdp(Source("model.joblib", "data.parquet", target="y"),        # doctest: +SKIP
...               PdpOptions(features=("age",), kind="both"))
>>> run.curves[0].average                                                     # doctest: +SKIP

Each ``run_*`` takes a :class:`Source` (model and data files), its options object, an
:class:`~inspectcli.engines.execution.Execution` (memory budget, workers, backend, scheduler,
progress) and a :class:`Reporter` for notes; the CLI (``inspectcli.cli``) only parses flags into
these objects and renders what comes back.
"""

from __future__ import annotations

from typing import Any

from inspectcli.engines.execution import Execution

__all__ = [
    "AleOptions",
    "CoefficientsOptions",
    "Collected",
    "Execution",
    "ImportanceOptions",
    "InteractionsOptions",
    "PdpOptions",
    "ReportOptions",
    "Reporter",
    "Source",
    "run_ale",
    "run_coefficients",
    "run_diff",
    "run_importance",
    "run_info",
    "run_interactions",
    "run_pdp",
    "run_report",
]

_HOMES = {
    "AleOptions": "ale",
    "run_ale": "ale",
    "CoefficientsOptions": "coefficients",
    "run_coefficients": "coefficients",
    "ImportanceOptions": "importance",
    "run_importance": "importance",
    "PdpOptions": "pdp",
    "run_pdp": "pdp",
    "run_info": "info",
    "InteractionsOptions": "interactions",
    "run_interactions": "interactions",
    "run_diff": "diff",
    "ReportOptions": "report",
    "run_report": "report",
    "Source": "_inputs",
    "Reporter": "_inputs",
    "Collected": "_inputs",
}


def __getattr__(name: str) -> Any:  # lazy: the CLI imports only what a command needs
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"inspectcli.workflows.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'inspectcli.workflows' has no attribute {name!r}")
