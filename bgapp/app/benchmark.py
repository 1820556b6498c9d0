"""The Benchmark page: quality against time for every method a seller can pick, from results/.

Two reports feed it: ``results/bench.json`` (the real-photo rows, DUTS-TE, beside rembg's models)
and ``results/bench-all-methods.json`` (every method on the rendered sets); a method's figures are
taken from the first report that has them. rembg's models are shown as the reference they are,
labelled so unless they can be picked here.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from bgapp.app.common import ROOT
from bgapp.core.methods import all_methods

SETS = {
    "real_test": "real photos (DUTS-TE)",
    "product_scenes": "studio product shots",
    "pale_on_white": "pale on white",
    "strong_shadows": "strong shadows",
    "generated_test": "generated test scenes",
    "pet_test": "Pet test photos",
}
TIMES = {"mp12_ms": "12 MP photo, photo to full-size alpha", "preview_ms": "1024 px preview"}
REPORTS = ("bench.json", "bench-all-methods.json")  # the first one with a figure wins


def merged_rows(folder: Path, pickable: list[str]) -> dict[str, dict]:
    """method -> {"quality": {set: scores}, "speed": {...}, "pickable": bool}: every pickable method
    (figures or not) and every other method a report measured (the references)."""
    rows: dict[str, dict] = {name: {"quality": {}, "speed": {}, "pickable": True} for name in pickable}
    for report_name in REPORTS:
        path = folder / report_name
        if not path.exists():
            continue
        for name, entry in json.loads(path.read_text()).get("methods", {}).items():
            row = rows.setdefault(name, {"quality": {}, "speed": {}, "pickable": False})
            for dataset, scores in entry.get("quality", {}).items():
                row["quality"].setdefault(dataset, scores)
            for key, value in entry.get("speed", {}).items():
                row["speed"].setdefault(key, value)
    return rows


def label(name: str, row: dict) -> str:
    return name if row["pickable"] else f"{name} (reference, not in the app)"


def benchmark_page() -> None:
    """Quality against time for every method (``python -m bgapp bench --out results`` writes the figures)."""
    import plotly.graph_objects as go

    st.title("Benchmark")
    methods = all_methods()
    pickable = [n for n, m in methods.items() if m.available() is None]
    rows = merged_rows(ROOT / "results", pickable)
    if not any(row["quality"] for row in rows.values()):
        st.info("No benchmark yet: run `python -m bgapp bench --out results`.")
        return
    st.caption(
        "Every method you can pick in the Studio, and rembg's u2netp / u2net for reference. Real photos "
        "(DUTS-TE) are the judge; the rendered sets check studio shots, pale products and shadows. "
        "A blank means not measured."
    )
    datasets = [d for d in SETS if any(d in row["quality"] for row in rows.values())]
    dataset = st.selectbox("Images", datasets, key="bench_dataset", format_func=lambda d: SETS.get(d, d))
    speed_key = st.radio("Time", list(TIMES), horizontal=True, key="bench_speed", format_func=TIMES.get)
    chosen = [
        (name, row)
        for name, row in rows.items()
        if dataset in row["quality"] and row["quality"][dataset].get("iou") is not None and speed_key in row["speed"]
    ]
    scatter = go.Figure(
        go.Scatter(
            x=[row["speed"][speed_key] for _, row in chosen],
            y=[row["quality"][dataset]["iou"] for _, row in chosen],
            mode="markers+text",
            text=[label(name, row) for name, row in chosen],
            textposition="top center",
        )
    )
    scatter.update_layout(
        xaxis_type="log",
        xaxis_title=f"milliseconds, log scale ({TIMES[speed_key]})",
        yaxis_title="IoU",
        height=420,
        margin={"t": 30},
    )
    st.plotly_chart(scatter, key="bench-scatter")
    table = [
        {
            "method": label(name, row),
            "made for": methods[name].made_for if name in methods else "product",
            **{SETS[d]: row["quality"].get(d, {}).get("iou") for d in datasets},
            "max F (DUTS-TE)": row["quality"].get("real_test", {}).get("max_f"),
            "MAE (DUTS-TE)": row["quality"].get("real_test", {}).get("mae"),
            "12 MP ms": row["speed"].get("mp12_ms"),
            "preview ms": row["speed"].get("preview_ms"),
        }
        for name, row in rows.items()
    ]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={SETS[d]: st.column_config.NumberColumn(format="%.3f") for d in datasets},
    )
    notes = ROOT / "results" / "bench.md"
    if notes.exists():
        with st.expander("The benchmark's own table and notes (results/bench.md)"):
            st.markdown(notes.read_text())
