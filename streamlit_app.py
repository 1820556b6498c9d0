"""bgapp studio: cut products out of their photos in the browser.

Run with ``streamlit run streamlit_app.py``. Each page is a module of ``bgapp.app``; all image work
is in the ``bgapp`` core, shared with the command line and the library call.
"""

import streamlit as st

from bgapp.app import benchmark, common, compare, models, overview, studio

st.set_page_config(page_title="bgapp: product cut-outs", page_icon="✂️", layout="wide")

common.PAGES.update(
    {
        "studio": st.Page(
            lambda: common.show_errors(studio.studio_page), title="Studio", url_path="studio", default=True
        ),
        "photos": st.Page(lambda: common.show_errors(overview.photos_page), title="All photos", url_path="photos"),
        "compare": st.Page(lambda: common.show_errors(compare.compare_page), title="Compare", url_path="compare"),
        "models": st.Page(lambda: common.show_errors(models.models_page), title="Models", url_path="models"),
        "benchmark": st.Page(
            lambda: common.show_errors(benchmark.benchmark_page), title="Benchmark", url_path="benchmark"
        ),
    }
)
st.navigation(list(common.PAGES.values())).run()
