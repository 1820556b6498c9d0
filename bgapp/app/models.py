"""The Models page: each network's card and its training curves, one quantity per axis."""

from __future__ import annotations

import json

import streamlit as st

from bgapp._version import __version__
from bgapp.core.methods import all_methods
from bgapp.core.models import model_files

LABELS = {"loss": "training loss", "val_loss": "validation loss",
          "pixel_accuracy": "training pixel accuracy", "val_pixel_accuracy": "validation pixel accuracy",
          "fg_iou": "training cut-out IoU", "val_fg_iou": "validation cut-out IoU", "seconds": "seconds per epoch"}
PANELS = (("Loss", ("loss", "val_loss"), None), ("Accuracy and IoU (0-1)", ("pixel_accuracy", "val_pixel_accuracy",
          "fg_iou", "val_fg_iou"), (0.0, 1.0)), ("Time", ("seconds",), None))


def history_figure(epochs: list[dict]):
    """Three panels (loss; accuracy and IoU on 0-1; seconds per epoch), so no line is flattened by another's scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for title, _, _ in PANELS])
    x = [e["epoch"] for e in epochs]
    for column, (title, keys, span) in enumerate(PANELS, start=1):
        for key in keys:
            if any(key in e for e in epochs):
                figure.add_trace(go.Scatter(x=x, y=[e.get(key) for e in epochs], mode="lines+markers",
                                            name=LABELS[key]), row=1, col=column)
        figure.update_xaxes(title_text="epoch", row=1, col=column)
        if span:
            figure.update_yaxes(range=list(span), row=1, col=column)
    figure.update_yaxes(title_text="seconds", row=1, col=3)
    figure.update_layout(height=340, margin={"t": 40}, legend={"orientation": "h", "y": -0.3})
    return figure


def models_page() -> None:
    """Each deep model's card, training curves and test metrics."""
    st.title("Models")
    st.caption(f"bgapp {__version__}: what changed in each version is in CHANGELOG.md")
    deep = [m for m in all_methods().values() if m.family == "deep"]
    if not deep:
        st.info("No deep models are installed yet: only the classical methods are available.")
        return
    for method in deep:
        st.header(method.name + (" (pet model: finds pets, not products)" if method.made_for == "pets" else ""))
        if method.licence:
            st.info(method.licence, icon=":material/gavel:")
        files = model_files(method.name)
        card, history = files["card"], files["history"]
        if card.exists():
            lines = card.read_text().splitlines()
            st.markdown("\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines))  # title shown above
        else:
            st.warning("No model card found.")
        if history.exists():
            st.plotly_chart(history_figure(json.loads(history.read_text())), key=f"history-{method.name}")
