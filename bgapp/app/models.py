"""The Models page: each network's card and training curves."""

from __future__ import annotations

import json

import streamlit as st

from bgapp.core.methods import all_methods
from bgapp.core.models import model_files


def models_page() -> None:
    """Each deep model's card, training curves and test metrics."""
    import plotly.graph_objects as go

    st.title("Models")
    deep = [m for m in all_methods().values() if m.family == "deep"]
    if not deep:
        st.info("No deep models are installed yet: only the classical methods are available.")
        return
    for method in deep:
        st.header(method.name)
        files = model_files(method.name)
        card, history = files["card"], files["history"]
        if card.exists():
            st.markdown(card.read_text())
        else:
            st.warning("No model card found.")
        if history.exists():
            epochs = json.loads(history.read_text())
            figure = go.Figure()
            for key in sorted({k for e in epochs for k in e if k != "epoch"}):
                figure.add_trace(go.Scatter(x=[e["epoch"] for e in epochs], y=[e.get(key) for e in epochs],
                                            mode="lines+markers", name=key))
            figure.update_layout(xaxis_title="epoch", height=360, margin={"t": 30})
            st.plotly_chart(figure, key=f"history-{method.name}")
