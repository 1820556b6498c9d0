"""The Models page: each network's card and its training curves, one quantity per axis; for the
networks that are not ours (``core/external.py``), their source, licence, size, what has been
measured of them, the device they run on, and a button that fetches one with a progress bar."""

from __future__ import annotations

import json

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from bgapp._version import __version__
from bgapp.core.external import REGISTRY
from bgapp.core.methods import all_methods
from bgapp.core.models import model_files

LABELS = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "pixel_accuracy": "training pixel accuracy",
    "val_pixel_accuracy": "validation pixel accuracy",
    "fg_iou": "training cut-out IoU",
    "val_fg_iou": "validation cut-out IoU",
    "seconds": "seconds per epoch",
}
PANELS = (
    ("Loss", ("loss", "val_loss"), None),
    ("Accuracy and IoU (0-1)", ("pixel_accuracy", "val_pixel_accuracy", "fg_iou", "val_fg_iou"), (0.0, 1.0)),
    ("Time", ("seconds",), None),
)


def history_figure(epochs: list[dict]):
    """Three panels (loss; accuracy and IoU on 0-1; seconds per epoch), so no line is flattened by another's scale."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=3, subplot_titles=[title for title, _, _ in PANELS])
    x = [e["epoch"] for e in epochs]
    for column, (title, keys, span) in enumerate(PANELS, start=1):
        for key in keys:
            if any(key in e for e in epochs):
                figure.add_trace(
                    go.Scatter(x=x, y=[e.get(key) for e in epochs], mode="lines+markers", name=LABELS[key]),
                    row=1,
                    col=column,
                )
        figure.update_xaxes(title_text="epoch", row=1, col=column)
        if span:
            figure.update_yaxes(range=list(span), row=1, col=column)
    figure.update_yaxes(title_text="seconds", row=1, col=3)
    figure.update_layout(height=340, margin={"t": 40}, legend={"orientation": "h", "y": -0.3})
    return figure


def external_card(name: str) -> str:
    """A network that is not ours, in markdown: what it is, where from, how big, what is known of it."""
    from bgapp.core import external

    model = external.get(name)
    found = external.locate(name)
    where = (
        f"installed, runs on the **{external.device()}**: `{', '.join(str(p) for p in found.values())}`"
        if found
        else f"not installed: `{model.how_to_get().split(' (')[0]}`"
    )
    return (
        f"{model.summary}\n\n- **{model.tested}**\n- source: {model.source}\n"
        f"- size: {model.size_text}\n- {where}\n- input: {model.input}\n- output: {model.output}"
    )


def fetch_button(name: str, where: DeltaGenerator | None = None) -> bool:
    """Fetch ``name`` from the page, a progress bar drawn from ``external.fetch``'s callback; a failure
    (offline, a changed file) is the fetch's one line. True once it has been installed by this click."""
    from bgapp.core import external

    model = external.get(name)
    place = where if where is not None else st
    if external.locate(name) is not None or not place.button(
        f"Fetch {name} ({model.size_text})",
        key=f"fetch-{name}",
        type="primary",
    ):
        return False
    bar = st.progress(0.0, text=f"Fetching {name}...")

    def show(done: int, total: int | None) -> None:
        share = min(done / total, 1.0) if total else 0.0
        bar.progress(share, text=f"{name}: {done / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB" if total else " MB"))

    try:
        external.fetch(name, progress=show)
    except external.FetchError as error:
        st.error(f"{error}. Everything keeps working on the shipped network.")
        return False
    st.success(f"{name} installed: auto, the default method, uses it from the next cut-out on.")
    return True


def quality_offer() -> None:
    """On the Studio: where ``auto`` runs on the shipped network alone because no stronger one is
    installed, say what u2net gains (measured figures) and fetch it with one click; the next cut-out uses it."""
    from bgapp.core import external
    from bgapp.core.methods.auto import QUALITY_GAIN, QUALITY_NETWORK, plan

    base, _ = plan("best")
    if base is None or base.name != "unet-product" or external.locate(QUALITY_NETWORK) is not None:
        return
    if st.session_state.get("quality_offer_hidden"):
        return
    box = st.container(border=True)
    box.markdown(
        f"**Sharper cut-outs with {QUALITY_NETWORK}.** {QUALITY_GAIN} It is fetched once "
        f"({external.get(QUALITY_NETWORK).size_text}, {external.get(QUALITY_NETWORK).licence.split(' (')[0]} "
        "licence); "
        "without it everything works on the shipped network, offline."
    )
    left, right = box.columns([1, 1])
    if right.button("Not now", key="quality-offer-hide"):
        st.session_state["quality_offer_hidden"] = True
        st.rerun()
    with left:
        if fetch_button(QUALITY_NETWORK, left):
            st.rerun()


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
        if method.name == "auto":  # no network of its own: it runs the ones below
            st.markdown(
                f"{method.summary} It is no network of its own: it runs the installed networks below, "
                "and the caption under each photo says which ran. How each step was chosen and what it "
                "gains: docs/auto.md."
            )
            continue
        if method.licence:
            st.info(method.licence, icon=":material/gavel:")
        if method.name in REGISTRY:  # not ours: no card or curves here, the registry's facts instead
            st.info(REGISTRY[method.name].licence, icon=":material/gavel:")
            st.markdown(external_card(method.name))
            fetch_button(method.name)
            continue
        files = model_files(method.name)
        card, history = files["card"], files["history"]
        if card.exists():
            lines = card.read_text().splitlines()
            st.markdown("\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines))  # title shown above
        else:
            st.warning("No model card found.")
        if history.exists():
            st.plotly_chart(history_figure(json.loads(history.read_text())), key=f"history-{method.name}")
