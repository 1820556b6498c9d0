"""bgapp studio: cut products out of their photos in the browser.

Run with ``streamlit run streamlit_app.py``. The pages live in ``bgapp.ui``; all image work is in
the ``bgapp`` core, shared with the command line.
"""

import streamlit as st

from bgapp import ui

st.set_page_config(page_title="bgapp: product cut-outs", page_icon="✂️", layout="wide")

pages = [
    st.Page(lambda: ui.show_errors(ui.studio_page), title="Studio", url_path="studio", default=True),
    st.Page(lambda: ui.show_errors(ui.compare_page), title="Compare", url_path="compare"),
    st.Page(lambda: ui.show_errors(ui.models_page), title="Models", url_path="models"),
    st.Page(lambda: ui.show_errors(ui.benchmark_page), title="Benchmark", url_path="benchmark"),
]
st.navigation(pages).run()
