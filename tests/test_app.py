"""The Streamlit studio through streamlit.testing: it runs, its widgets come from the declarations, errors are messages."""

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from bgapp.app import common
from bgapp.core.methods import all_methods
from bgapp.core.pipeline import resolve_settings

CLASSICAL = ["threshold", "adaptive", "kmeans", "meanshift", "grabcut"]


@pytest.fixture()
def app() -> AppTest:
    return AppTest.from_file("../streamlit_app.py", default_timeout=120).run()


def labels(at: AppTest) -> set[str]:
    return {w.label for w in [*at.sidebar.slider, *at.sidebar.selectbox, *at.sidebar.toggle, *at.slider,
                              *at.selectbox, *at.toggle]}


def test_app_opens_on_the_samples_and_shows_results(app):
    assert not app.exception and not app.error
    assert len(app.image) == 3  # photo, mask, cut-out
    assert any("IoU with the exact mask" in c.value for c in app.caption)


@pytest.mark.parametrize("name", CLASSICAL)
def test_every_method_gets_its_declared_widgets(app, name):
    app.sidebar.selectbox(key="method").set_value(name).run()
    assert not app.exception and not app.error
    shown = labels(app)
    for param in all_methods()[name].params:
        assert param.title in shown, param.name
    assert {"Open size", "Close size", "Fill holes", "Keep largest"} <= shown
    assert len(app.image) == 3


def test_moving_a_slider_redraws(app):
    app.sidebar.selectbox(key="method").set_value("threshold").run()
    app.sidebar.selectbox(key="setting.threshold.mode").set_value("binary").run()
    before = [c.value for c in app.caption if "IoU" in c.value]
    app.sidebar.slider(key="setting.threshold.threshold").set_value(30).run()
    after = [c.value for c in app.caption if "IoU" in c.value]
    assert not app.exception and not app.error
    assert before != after  # a different cut-off gives a different IoU


def test_each_method_keeps_its_own_settings(app):
    app.sidebar.selectbox(key="method").set_value("kmeans").run()
    app.sidebar.slider(key="setting.kmeans.k").set_value(5).run()
    app.sidebar.selectbox(key="method").set_value("threshold").run()
    app.sidebar.selectbox(key="method").set_value("kmeans").run()
    assert app.sidebar.slider(key="setting.kmeans.k").value == 5


def test_compare_shows_one_result_row_per_method():
    at = AppTest.from_string("from bgapp.app import common, compare\ncommon.show_errors(compare.compare_page)", default_timeout=120).run()
    assert not at.exception and not at.error
    at.multiselect(key="compare_methods").set_value(["threshold", "kmeans"]).run()
    assert len(at.image) == 2 * 3
    assert sum("ms" in m.value for m in at.markdown) == 2


class FakeUpload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_bad_uploads_get_a_message_and_good_ones_go_on():
    photos, problems = common.uploaded_photos([FakeUpload("notes.jpg", b"not a photo"), FakeUpload("ok.png", png_bytes()),
                                           FakeUpload("empty.png", b"")])
    assert [p.name for p in photos] == ["ok.png"]
    assert [name for name, _ in problems] == ["notes.jpg", "empty.png"]
    assert "not an image file" in problems[0][1] and "empty" in problems[1][1]


def test_bad_upload_message_is_shown_in_the_page():
    script = """
import streamlit as st
from bgapp.app import common, studio
class Fake:
    name = "broken.jpg"
    def getvalue(self):
        return b"GIF89a garbage"
st.sidebar.file_uploader = lambda *a, **k: [Fake()]
try:
    common.show_errors(studio.studio_page)
finally:
    del st.sidebar.file_uploader  # the patch must not leak into the other tests (same process)
"""
    at = AppTest.from_string(script, default_timeout=120).run()
    assert not at.exception
    assert any("broken.jpg" in e.value for e in at.sidebar.error)
    assert len(at.image) == 3  # the samples still work


def test_downloads_are_full_resolution_files():
    import io
    import zipfile

    photo = common.sample_photos()[0]
    settings = resolve_settings("threshold")
    png = Image.open(io.BytesIO(common.full_resolution_file(photo, settings)))
    assert png.mode == "RGBA" and png.size == photo.image.size
    jpeg = Image.open(io.BytesIO(common.full_resolution_file(photo, settings, "white")))
    assert jpeg.format == "JPEG" and jpeg.size == photo.image.size
    amazon = Image.open(io.BytesIO(common.full_resolution_file(photo, settings, "amazon")))
    assert amazon.format == "JPEG" and amazon.size == (2000, 2000)
    mask = Image.open(io.BytesIO(common.full_resolution_file(photo, settings, mask=True)))
    assert mask.mode == "L" and mask.size == photo.image.size
    # every download of one photo has its own name, the same as `cut` writes
    names = {common.download_name(photo, kind) for kind in ("transparent", "white", "amazon")}
    names.add(common.download_name(photo, mask=True))
    stem = common.file_stem(photo)
    assert names == {f"{stem}.png", f"{stem}-white.jpg", f"{stem}-amazon.jpg", f"{stem}-mask.png"}
    two = [common.sample_photos()[0], common.sample_photos()[0]]  # the same name twice: numbered, not replaced
    archive = zipfile.ZipFile(io.BytesIO(common.zip_of_results(two, settings, "amazon")))
    assert archive.namelist() == [f"{stem}-amazon.jpg", f"{stem}-2-amazon.jpg"]


def test_export_choice_changes_the_preview_and_the_download(app):
    assert app.image[2].captions == ["Export: transparent"]
    app.sidebar.selectbox(key="export.preset").set_value("amazon").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.image[2].captions == ["Export: amazon"]
    assert app.get("download_button")[0].label == "Amazon JPG"
    app.sidebar.selectbox(key="export.preset").set_value("custom").run()
    assert not app.exception
    assert app.sidebar.toggle(key="export.square").value is False  # custom shows every framing setting, at its default
    app.sidebar.toggle(key="export.crop").set_value(True).run()
    app.sidebar.selectbox(key="export.format").set_value("jpeg").run()  # transparent JPEG: a message, no crash
    assert not app.exception and any("JPEG cannot be transparent" in e.value for e in app.error)


def test_models_and_benchmark_pages_render():
    for page in ("models_page", "benchmark_page"):
        module = page.removesuffix("_page")
        at = AppTest.from_string(f"from bgapp.app import common, {module}\ncommon.show_errors({module}.{page})",
                                 default_timeout=60).run()
        assert not at.exception and not at.error, page


@pytest.mark.parametrize("name", ["unet-product", "unet-effnet-lite0"])
def test_a_deep_method_runs_in_the_studio_with_its_declared_widgets(app, name):
    if all_methods()[name].available() is not None:
        pytest.skip(f"{name}: {all_methods()[name].available()}")
    app.sidebar.selectbox(key="method").set_value(name).run()
    assert not app.exception and not app.error
    assert {"Size", "Threshold", "Soft"} <= labels(app)
    assert len(app.image) == 3
