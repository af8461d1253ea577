"""matplotlib figures (Agg, no pyplot state); computed results in, Display objects out.

Each ``plot_*`` function returns a Display dataclass that keeps the figure and its artists
(``figure_``, ``axes_``, lines, bars, …) so tests can check what was drawn, as scikit-learn's
displays do. ``figure_bytes`` renders a figure without run-dependent metadata, so the same
results give the same file.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """The figure as PNG / SVG / PDF bytes, reproducible (no software or date metadata)."""
    buf = io.BytesIO()
    metadata: dict[str, None] = {"Software": None}
    if fmt == "svg":
        metadata = {"Date": None, "Creator": None}  # type: ignore[dict-item]
    elif fmt == "pdf":
        metadata = {"CreationDate": None, "Creator": None, "Producer": None}  # type: ignore[dict-item]
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def new_figure(
    n_panels: int, n_cols: int = 3, panel_size: tuple[float, float] = (4.2, 3.3)
) -> tuple[Figure, list]:
    """A figure with a grid of ``n_panels`` axes, ``n_cols`` wide; unused cells removed."""
    n_cols = max(1, min(n_cols, n_panels))
    n_rows = -(-n_panels // n_cols)
    fig = Figure(figsize=(panel_size[0] * n_cols, panel_size[1] * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def figure_legend(fig: Figure, axes: list, *, skip: set[int] | None = None) -> object | None:
    """One legend for the whole figure, below the panels, instead of one per panel on the curves.

    Entries are collected from ``axes`` (except the positions in ``skip``), one per label.
    Returns the Legend, or None when nothing has a label.
    """
    handles: dict[str, object] = {}
    for i, ax in enumerate(axes):
        if skip and i in skip:
            continue
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_"):
                handles.setdefault(lab, h)
    if not handles:
        return None
    return fig.legend(
        list(handles.values()),
        list(handles.keys()),
        loc="outside lower center",
        ncols=min(len(handles), 4),
        fontsize="small",
        frameon=False,
    )
