"""The Benchmark page: quality against time, from results/bench.json."""

from __future__ import annotations

import json

import streamlit as st

from bgapp.app.common import ROOT

SETS = {"real_test": "real photos (DUTS-TE)", "product_scenes": "studio product shots", "pale_on_white": "pale on white",
        "strong_shadows": "strong shadows", "generated_test": "generated test scenes", "pet_test": "Pet test photos"}
TIMES = {"mp12_ms": "12 MP photo, photo to full-size alpha", "preview_ms": "1024 px preview"}


def benchmark_page() -> None:
    """Quality against time for every method, from ``results/bench.json`` (written by ``python -m bgapp bench``)."""
    import plotly.graph_objects as go

    st.title("Benchmark")
    path = ROOT / "results" / "bench.json"
    if not path.exists():
        st.info("No benchmark yet: run `python -m bgapp bench --out results`.")
        return
    report = json.loads(path.read_text())
    rows = []
    for name, entry in report["methods"].items():
        for dataset, scores in entry.get("quality", {}).items():
            rows.append((name, dataset, scores.get("iou"), entry["speed"].get("mp12_ms"), entry["speed"].get("preview_ms")))
    datasets = sorted({r[1] for r in rows}, key=lambda d: list(SETS).index(d) if d in SETS else 99)
    dataset = st.selectbox("Images", datasets, key="bench_dataset", format_func=lambda d: SETS.get(d, d))
    speed_key = st.radio("Time", list(TIMES), horizontal=True, key="bench_speed", format_func=TIMES.get)
    chosen = [r for r in rows if r[1] == dataset and r[2] is not None]
    times = [r[3] if speed_key == "mp12_ms" else r[4] for r in chosen]
    scatter = go.Figure(go.Scatter(x=times, y=[r[2] for r in chosen], mode="markers+text",
                                   text=[r[0] for r in chosen], textposition="top center"))
    scatter.update_layout(xaxis_type="log", xaxis_title=f"milliseconds, log scale ({TIMES[speed_key]})", yaxis_title="IoU",
                          height=420, margin={"t": 30})
    st.plotly_chart(scatter, key="bench-scatter")
    bars = go.Figure()
    for ds in datasets:
        subset = [r for r in rows if r[1] == ds]
        bars.add_trace(go.Bar(name=SETS.get(ds, ds), x=[r[0] for r in subset], y=[r[2] for r in subset]))
    bars.update_layout(barmode="group", yaxis_title="IoU", height=360, margin={"t": 30})
    st.plotly_chart(bars, key="bench-bars")
    table = ROOT / "results" / "bench.md"
    if table.exists():
        st.markdown(table.read_text())
