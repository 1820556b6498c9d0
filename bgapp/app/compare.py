"""The Compare page: several methods side by side on one photo."""

from __future__ import annotations

import streamlit as st

from bgapp.app.common import photo_picker, photo_sidebar, preview, stored_settings
from bgapp.app.fixes import current_marks
from bgapp.core.compose import mask_image
from bgapp.core.errors import BgappError
from bgapp.core.methods import all_methods
from bgapp.core.pipeline import resolve_settings


def compare_page() -> None:
    """Several methods side by side on one photo, each with the settings chosen for it in the studio."""
    photos = photo_sidebar()
    methods = all_methods()
    st.title("Compare methods")
    photo = photo_picker(photos)  # the same photo as in the Studio, and the other way round
    pets = st.sidebar.toggle(
        "Also list the pet models",
        key="show_pet_models",
        persist_state="session",
        help="Networks trained on pet photos (the report this project grew from): they find pets, not products.",
    )
    available = [n for n, m in methods.items() if m.available() is None and (m.made_for == "product" or pets)]
    if "compare_methods" in st.session_state:  # a pet model picked before its switch was turned off
        st.session_state["compare_methods"] = [n for n in st.session_state["compare_methods"] if n in available]
    else:
        st.session_state["compare_methods"] = [
            n for n in ("threshold", "meanshift", "grabcut", "unet-product") if n in available
        ]
    picked = st.multiselect(
        "Methods",
        available,
        key="compare_methods",
        persist_state="session",
        help="Each method uses the settings you gave it on the Studio page.",
    )
    if not picked:
        st.info("Pick at least one method.")
        return
    for name in picked:
        method = methods[name]
        try:
            marks = current_marks(photo, method)
            result = preview(photo, resolve_settings(name, stored_settings(method)), marks=marks)
        except BgappError as error:
            st.error(f"{name}: {error}")
            continue
        line = f"**{name}** · {result.milliseconds:.0f} ms" + (" · with your fixes from the Studio" if marks else "")
        if result.iou is not None:
            line += f" · IoU {result.iou:.3f}"
        st.markdown(line)
        if result.concerns:
            st.warning(f"{name}: " + "; ".join(result.concerns))
        columns = st.columns(3)
        columns[0].image(result.photo, width="stretch", output_format="JPEG")
        columns[1].image(mask_image(result.mask), width="stretch", output_format="JPEG")
        columns[2].image(result.cutout, width="stretch", output_format="JPEG")
