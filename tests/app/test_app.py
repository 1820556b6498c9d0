"""The Streamlit studio through streamlit.testing: it runs, its widgets come from the declarations, errors are messages."""

from pathlib import Path

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
    return AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()


def labels(at: AppTest) -> set[str]:
    return {
        w.label
        for w in [*at.sidebar.slider, *at.sidebar.selectbox, *at.sidebar.toggle, *at.slider, *at.selectbox, *at.toggle]
    }


def test_app_opens_on_the_samples_and_shows_results(app):
    assert not app.exception and not app.error
    assert len(app.image) == 2  # mask, cut-out (the photo is the clickable component)
    assert any("IoU with the exact mask" in c.value for c in app.caption)


@pytest.mark.parametrize("name", CLASSICAL)
def test_every_method_gets_its_declared_widgets(app, name):
    app.sidebar.selectbox(key="method").set_value(name).run()
    assert not app.exception and not app.error
    shown = labels(app)
    for param in all_methods()[name].params:
        assert param.title in shown, param.name
    assert {"Open size", "Close size", "Fill holes", "Keep largest"} <= shown
    assert len(app.image) == 2


def test_a_rerun_with_the_same_settings_says_its_mask_was_kept(app):
    # the method's mask is kept between reruns (a click reuses it): "0 ms" alone would read as a fault
    caption = next(c.value for c in app.caption if "for the preview" in c.value)
    assert "kept from the last run" not in caption  # the first run computed it
    app.run()
    caption = next(c.value for c in app.caption if "for the preview" in c.value)
    assert "kept from the last run" in caption  # the time shown is the lookup's (auto checks what is installed)


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
    at = AppTest.from_string(
        "from bgapp.app import common, compare\ncommon.show_errors(compare.compare_page)", default_timeout=120
    ).run()
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


def test_the_store_keeps_good_uploads_on_disk_and_names_bad_ones(tmp_path):
    from bgapp.app.photos import SessionStore

    store = SessionStore(tmp_path / "session")
    keys = [
        store.add("notes.jpg", b"not a photo"),
        store.add("ok.png", png_bytes()),
        store.add("empty.png", b""),
        store.add("again.png", png_bytes()),
    ]
    assert keys[1] == keys[3]  # the same content twice is one photo
    assert [p.name for p in store.photos()] == ["ok.png"]
    assert [name for _, name, _ in store.problems()] == ["notes.jpg", "empty.png"]
    assert "not an image file" in store.problems()[0][2] and "empty" in store.problems()[1][2]
    assert (tmp_path / "session" / keys[1]).read_bytes() == png_bytes()  # bytes on disk, not in memory
    reopened = SessionStore(tmp_path / "session")  # a page reload finds the same photos
    assert [p.key for p in reopened.photos()] == [keys[1]] and len(reopened.problems()) == 2


def test_downloads_are_full_resolution_files():
    import io
    import zipfile

    from bgapp.app.photos import PhotoSource, sample_photos

    photo = sample_photos()[0]
    source = PhotoSource(photo, None)
    size = source.load().size
    settings = resolve_settings("threshold")
    png = Image.open(io.BytesIO(common.full_resolution_file(source, settings)))
    assert png.mode == "RGBA" and png.size == size
    jpeg = Image.open(io.BytesIO(common.full_resolution_file(source, settings, "white")))
    assert jpeg.format == "JPEG" and jpeg.size == size
    amazon = Image.open(io.BytesIO(common.full_resolution_file(source, settings, "amazon")))
    assert amazon.format == "JPEG" and amazon.size == (2000, 2000)
    mask = Image.open(io.BytesIO(common.full_resolution_file(source, settings, mask=True)))
    assert mask.mode == "L" and mask.size == size
    # every download of one photo has its own name, the same as `cut` writes
    names = {common.download_name(photo, kind) for kind in ("transparent", "white", "amazon")}
    names.add(common.download_name(photo, mask=True))
    stem = photo.stem
    assert names == {f"{stem}.png", f"{stem}-white.jpg", f"{stem}-amazon.jpg", f"{stem}-mask.png"}
    two = [source, source]  # the same name twice: numbered, not replaced
    archive = zipfile.ZipFile(io.BytesIO(common.zip_of_results(two, settings, "amazon")))
    assert archive.namelist() == [f"{stem}-amazon.jpg", f"{stem}-2-amazon.jpg"]


def test_export_choice_changes_the_preview_and_the_download(app):
    assert app.image[0].captions == ["After: Transparent PNG"]
    app.sidebar.selectbox(key="export.preset").set_value("amazon").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.image[0].captions == ["After: Amazon JPEG"]
    buttons = [b.label for b in app.get("download_button")]
    assert buttons[0] == "Download JPEG"  # the primary button is the chosen export
    assert {"Transparent PNG", "White JPEG", "Mask PNG"} <= set(buttons[1:])  # the others one click away
    assert "Amazon JPEG" not in buttons[1:]
    app.sidebar.selectbox(key="export.preset").set_value("custom").run()
    assert not app.exception
    assert app.sidebar.toggle(key="export.square").value is False  # custom shows every framing setting, at its default
    app.sidebar.toggle(key="export.crop").set_value(True).run()
    app.sidebar.selectbox(key="export.format").set_value("jpeg").run()  # transparent JPEG: a message, no crash
    assert not app.exception and any("JPEG cannot be transparent" in e.value for e in app.error)


def _page(module: str) -> AppTest:
    return AppTest.from_string(
        f"from bgapp.app import common, {module}\ncommon.show_errors({module}.{module}_page)", default_timeout=60
    ).run()


def test_the_models_page_shows_each_network_with_its_licence():
    at = _page("models")
    assert not at.exception and not at.error
    deep = [m for m in all_methods().values() if m.family == "deep"]
    assert [h.value.split(" (")[0] for h in at.header] == [m.name for m in deep]
    licences = [i.value for i in at.info]
    assert any("DUTS" in text and "research" in text for text in licences)  # the default's data licence, plainly
    cards = [m.value for m in at.markdown]
    for name in ("isnet-general-use", "birefnet-general-lite", "birefnet-general"):  # not ours, not fetched here
        assert any(
            f"python -m bgapp models fetch {name}" in card and "not run on our test machines" in card for card in cards
        )
    assert any(b.label.startswith("Fetch birefnet-general-lite (~224 MB)") for b in at.button)


def test_the_benchmark_page_has_a_row_for_every_method_a_seller_can_pick(tmp_path, monkeypatch):
    import json

    from bgapp.app import benchmark

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bench.json").write_text(
        json.dumps(
            {
                "methods": {
                    "threshold": {"quality": {"real_test": {"iou": 0.22}}, "speed": {"mp12_ms": 350.0}},
                    "some-reference": {"quality": {"real_test": {"iou": 0.75}}, "speed": {"mp12_ms": 600.0}},
                }
            }
        )
    )
    pickable = [n for n, m in all_methods().items() if m.available() is None]
    rows = benchmark.merged_rows(tmp_path / "results", pickable)
    assert list(rows)[: len(pickable)] == pickable  # every pickable method, measured or not
    assert rows["threshold"]["quality"]["real_test"]["iou"] == 0.22 and rows["grabcut"]["quality"] == {}
    assert benchmark.label("some-reference", rows["some-reference"]).endswith("(reference, not in the app)")
    at = _page("benchmark")  # and the real page, on the committed results
    assert not at.exception and not at.error
    shown = at.dataframe[0].value["method"].tolist()
    assert all(name in shown for name in pickable)


@pytest.mark.parametrize("name", ["unet-product", "unet-effnet-lite0"])
def test_a_deep_method_runs_in_the_studio_with_its_declared_widgets(app, name):
    if all_methods()[name].available() is not None:
        pytest.skip(f"{name}: {all_methods()[name].available()}")
    if all_methods()[name].made_for == "pets":
        assert name not in app.sidebar.selectbox(key="method").options  # pet models are listed only on request
        app.sidebar.toggle(key="show_pet_models").set_value(True).run()
    app.sidebar.selectbox(key="method").set_value(name).run()
    assert not app.exception and not app.error
    assert {"Network input (px)", "Cut-off", "Soft mask"} <= labels(app)
    assert len(app.image) == 2
    assert any("network on the CPU" in c.value for c in app.caption)  # the page says what runs the network


@pytest.fixture()
def session_root(tmp_path, monkeypatch):
    from bgapp.app import photos

    monkeypatch.setattr(photos, "SESSION_ROOT", tmp_path / "sessions")
    return tmp_path / "sessions"


def photo_bytes(fmt: str, colour=(30, 90, 200)) -> bytes:
    import io

    from bgapp.lab import synth

    rgb = synth.render_scene(41, (160, 120), "white", "box").rgb
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt)
    return buffer.getvalue()


def test_an_upload_is_selected_kept_across_pages_and_the_samples_step_aside(session_root):
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    assert at.selectbox(key="photo_choice").value == "sample-101"
    at.sidebar.file_uploader[0].set_value(("my-mug.png", photo_bytes("PNG"), "image/png")).run()
    assert not at.exception and not at.error
    chosen = at.selectbox(key="photo_choice")
    assert chosen.format_func(chosen.value).startswith("my-mug.png")  # the new photo is the one shown
    assert len(chosen.options) == 1 and at.sidebar.toggle(key="show_samples").value is False
    assert any(b.label.startswith("ZIP of all 1 photo ") for b in at.get("download_button"))
    assert any(c.value == "1 photo of yours in this session." for c in at.sidebar.caption)
    at.sidebar.slider(key=f"setting.{at.sidebar.selectbox(key='method').value}.work_size").set_value(768).run()
    assert at.selectbox(key="photo_choice").value == chosen.value  # a rerun keeps the seller's photo
    # (Studio -> Compare -> Studio is the real-browser test's: AppTest cannot switch callable pages)
    at.sidebar.toggle(key="show_samples").set_value(True).run()  # the samples are one click away
    assert len(at.selectbox(key="photo_choice").options) == 7 and at.selectbox(key="photo_choice").value == chosen.value


@pytest.mark.parametrize("fmt,name", [("HEIF", "iphone.heic"), ("AVIF", "photo.avif")])
def test_heic_and_avif_uploads_load(session_root, fmt, name):
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    at.sidebar.file_uploader[0].set_value((name, photo_bytes(fmt), "image/" + fmt.lower())).run()
    assert not at.exception and not at.error and not [m for m in at.sidebar.markdown if "was not added" in m.value]
    chosen = at.selectbox(key="photo_choice")
    assert chosen.format_func(chosen.value).startswith(name) and len(at.image) == 2


def test_a_refused_file_is_named_with_its_reason(session_root):
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    at.sidebar.file_uploader[0].set_value(
        [("notes.txt", b"shopping list", "text/plain"), ("good.png", photo_bytes("PNG"), "image/png")]
    ).run()
    refused = [m.value for m in at.sidebar.markdown if "was not added" in m.value]
    assert len(refused) == 1 and "notes.txt" in refused[0] and "not an image file" in refused[0]
    assert not at.exception and len(at.image) == 2  # the good photo goes on


def test_a_setting_without_effect_is_disabled_with_the_reason(app):
    app.sidebar.selectbox(key="method").set_value("threshold").run()
    cut_off = app.sidebar.slider(key="setting.threshold.threshold")
    assert cut_off.disabled and "Otsu picks the cut-off itself" in cut_off.help
    app.sidebar.selectbox(key="setting.threshold.mode").set_value("binary").run()
    assert not app.sidebar.slider(key="setting.threshold.threshold").disabled


def test_no_two_widgets_share_a_label(app):
    for name in [*CLASSICAL, "unet-product"]:
        if all_methods()[name].available() is not None:
            continue
        app.sidebar.selectbox(key="method").set_value(name).run()
        app.sidebar.selectbox(key="export.preset").set_value("custom").run()
        shown = [w.label for w in [*app.slider, *app.selectbox, *app.toggle, *app.color_picker]]  # the whole page
        assert len(shown) == len(set(shown)), [x for x in shown if shown.count(x) > 1]


def _iou_caption(at: AppTest) -> str:
    """The preview caption from its IoU on (the time before it changes from run to run)."""
    return next(c.value for c in at.caption if "IoU with the exact mask" in c.value).split("· IoU")[1]


def test_marks_fix_the_preview_and_undo_takes_them_back(app):
    from bgapp.app.fixes import current_marks, set_marks  # noqa: F401 (the keys the page reads)
    from bgapp.core.marks import Marks

    app.sidebar.selectbox(key="method").set_value("threshold").run()
    photo_key = app.session_state.get("_selected_photo", None)
    before = _iou_caption(app)
    stored = app.session_state.get("marks", {})
    assert not stored  # nothing marked yet
    # A box around nothing but the top-left corner: everything else must go, so the IoU falls.
    key = next(iter(app.session_state["method_masks"]))[0]
    app.session_state["marks"] = {f"{key}|threshold": Marks().add("box", (0, 0, 40, 40)).to_json()}
    app.run()
    assert not app.exception and not app.error
    after = _iou_caption(app)
    assert "a box" in after and after != before
    assert float(after.split("with the exact mask ")[1].split()[0]) < 0.2
    assert any("--box 0,0,40,40" in c.value for c in app.caption)
    app.button(key="fix_undo").click().run()
    assert _iou_caption(app) == before
    assert photo_key is None or isinstance(photo_key, str)


def test_click_events_become_marks_in_photo_pixels():
    from bgapp.app.fixes import click_to_mark, draw_marks
    from bgapp.core.marks import Marks

    shown = {"width": 400, "height": 300}
    marks = click_to_mark(Marks(), "keep", {**shown, "x1": 100, "y1": 50, "x2": 101, "y2": 51}, (1600, 1200))
    assert marks.keep == ((400.0, 200.0),)
    marks = click_to_mark(marks, "box", {**shown, "x1": 10, "y1": 10, "x2": 11, "y2": 10}, (1600, 1200))
    assert marks.box is None  # a click in box mode is not a box
    marks = click_to_mark(marks, "box", {**shown, "x1": 300, "y1": 200, "x2": 20, "y2": 10}, (1600, 1200))
    assert marks.box == (80.0, 40.0, 1201.0, 801.0)
    marks = click_to_mark(marks, "remove", {**shown, "x1": 399, "y1": 299, "x2": 399, "y2": 299}, (1600, 1200))
    assert marks.remove == ((1596.0, 1196.0),)
    image = np.full((300, 400, 3), 128, np.uint8)
    drawn = draw_marks(image, marks, (1600, 1200))
    assert tuple(drawn[50, 100]) == (40, 200, 70) and tuple(drawn[10, 200]) != (128, 128, 128)


def test_downloads_and_zip_carry_the_fix():
    from bgapp.app.photos import PhotoSource, sample_photos
    from bgapp.core.marks import Marks

    photo = PhotoSource(sample_photos()[0], None)
    settings = resolve_settings("threshold", {"refine": False})
    plain = common.full_resolution(photo, settings, mask=True)
    boxed = common.full_resolution(photo, settings, mask=True, marks=Marks().add("box", (0, 0, 40, 40)))
    assert plain.pixels[100:].any() and not boxed.pixels[41:].any()
    import io
    import zipfile

    data = common.zip_of_results(
        [photo], settings, "transparent", {photo.photo.key: Marks().add("box", (0, 0, 40, 40))}
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        alpha = np.asarray(Image.open(io.BytesIO(archive.read(archive.namelist()[0]))))[..., 3]
    assert not alpha[41:].any()


def test_the_studio_draws_its_images_at_the_shown_size_and_fixes_on_the_working_copy(monkeypatch):
    """A click's redraw encodes three images and the browser decodes them: they are drawn at most
    ``SHOWN_SIDE`` px (a third of the page), while the method and the fixes still run on the 1024 px copy."""
    from bgapp.app import studio

    seen = []

    def recording(photo, settings, side=common.PREVIEW_SIDE, marks=None):
        result = common.preview(photo, settings, side=side, marks=marks)
        seen.append(result)
        return result

    monkeypatch.setattr(studio, "preview", recording)
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    assert not at.exception and not at.error and seen
    shown = seen[-1]
    assert max(shown.photo.shape[:2]) == min(studio.SHOWN_SIDE, max(shown.size)) < common.PREVIEW_SIDE
    assert shown.mask.shape == shown.photo.shape[:2]
    work, *_ = next(iter(at.session_state["method_masks"].values()))
    assert max(work.shape) == min(common.PREVIEW_SIDE, max(shown.size))  # the method ran on the working copy


def test_a_download_of_an_upload_works_outside_the_browser_session(session_root):
    """Streamlit runs a download's callable in its own thread, where session state is a new session's:
    the photo must be found from what was captured when the button was built (the bug this guards)."""
    import io
    import threading
    import zipfile

    from bgapp.app.photos import PhotoSource, SessionStore

    store = SessionStore(session_root / ("a" * 32))
    key = store.add("mug.png", photo_bytes("PNG"))
    source = PhotoSource(store.photos()[0], store.folder)
    settings = resolve_settings("threshold")
    out: dict = {}

    def click() -> None:  # no ScriptRunContext here, as in Streamlit's download thread
        out["png"] = common.full_resolution_file(source, settings)
        out["zip"] = common.zip_of_results([source, PhotoSource(source.photo, session_root / "gone")], settings)

    thread = threading.Thread(target=click)
    thread.start()
    thread.join()
    assert Image.open(io.BytesIO(out["png"])).size == (160, 120) and key in store.entries
    names = zipfile.ZipFile(io.BytesIO(out["zip"])).namelist()
    assert names == ["mug.png", "mug-2.FAILED.txt", "FAILED.txt"]  # one failed photo does not fail the ZIP


def test_a_reload_keeps_the_photo_marks_method_and_settings(session_root):
    from bgapp.core.marks import Marks

    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    at.sidebar.file_uploader[0].set_value(
        [("first.png", photo_bytes("PNG"), "image/png"), ("second.bmp", photo_bytes("BMP"), "image/bmp")]
    ).run()
    keys = at.selectbox(key="photo_choice").options
    assert len(keys) == 2 and at.selectbox(key="photo_choice").index == 1  # the last upload, not the first
    at.sidebar.selectbox(key="method").set_value("kmeans").run()
    at.sidebar.slider(key="setting.kmeans.k").set_value(5).run()
    photo = at.selectbox(key="photo_choice").value
    at.session_state["marks"] = {f"{photo}|kmeans": Marks().add("remove", (5, 5)).to_json()}
    at.sidebar.selectbox(key="export.preset").set_value("white").run()
    assert not at.exception
    token = at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]

    again = AppTest.from_file("../../streamlit_app.py", default_timeout=120)
    again.query_params["s"] = token  # the reloaded page's address
    again.run()
    assert not again.exception and not again.error
    assert again.selectbox(key="photo_choice").index == 1  # the second photo, not the first upload
    assert again.sidebar.selectbox(key="method").value == "kmeans"
    assert again.sidebar.slider(key="setting.kmeans.k").value == 5
    assert again.sidebar.selectbox(key="export.preset").value == "white"
    assert "--remove 5,5" in " ".join(c.value for c in again.caption), [c.value for c in again.caption]
    assert any(c.value == "2 photos of yours in this session." for c in again.sidebar.caption)


def test_a_damaged_choices_file_is_ignored(session_root):
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    token = at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]
    (session_root / token / "choices.json").write_text("{not json")
    again = AppTest.from_file("../../streamlit_app.py", default_timeout=120)
    again.query_params["s"] = token
    again.run()
    assert not again.exception and not again.error and len(again.image) == 2


def test_compare_lists_pet_models_only_under_their_switch_and_says_when_a_mask_is_empty():
    at = AppTest.from_string(
        "from bgapp.app import common, compare\ncommon.show_errors(compare.compare_page)", default_timeout=120
    ).run()
    pets = [n for n, m in all_methods().items() if m.made_for == "pets" and m.available() is None]
    options = at.multiselect(key="compare_methods").options
    assert not set(pets) & set(options) and "threshold" in options
    if pets:
        at.sidebar.toggle(key="show_pet_models").set_value(True).run()
        assert set(pets) <= set(at.multiselect(key="compare_methods").options)
    # a cut-off above everything in the photo: threshold finds nothing, and the page says so
    at.session_state["setting.threshold.mode"] = "binary"
    at.session_state["setting.threshold.threshold"] = 255
    at.session_state["setting.threshold.foreground"] = "as-is"
    at.multiselect(key="compare_methods").set_value(["threshold"]).run()
    assert not at.exception
    assert any("the mask is empty" in w.value for w in at.warning), [w.value for w in at.warning]


def test_the_models_page_fetches_a_network_from_a_mirror_with_a_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import hashlib

    from _mirror import serving, stand_in  # tests/_mirror.py: a loopback web folder, ONNX stand-ins

    from bgapp.core import download, external

    data = stand_in("birefnet")
    model = external.REGISTRY["birefnet-general-lite"]
    file = dataclasses.replace(model.files[0], md5=hashlib.md5(data).hexdigest())  # the stand-in's, not the real one's
    monkeypatch.setitem(external.REGISTRY, model.name, dataclasses.replace(model, files=(file,)))
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "models"))
    with serving() as mirror:
        mirror.files[file.name] = data
        monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{mirror.server_address[1]}/")
        at = _page("models")
        next(b for b in at.button if b.label.startswith("Fetch birefnet-general-lite")).click().run()
    assert not at.exception and not at.error
    assert any("birefnet-general-lite installed" in s.value for s in at.success)
    bars = at.get("progress")
    assert [b.proto.value for b in bars] == [100] and "MB" in bars[0].proto.text  # the bar, filled by the callback
    assert external.locate("birefnet-general-lite") == {file.name: tmp_path / "models" / model.name / file.name}


def _u2net_stand_in() -> bytes:
    """A tiny ONNX file with u2net's I/O (1x3x320x320 in, 1x1x320x320 out): the sigmoid of the channel mean."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sigmoid", ["mean"], ["1959"]),
    ]
    graph = helper.make_graph(
        nodes,
        "u2net-stand-in",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("1959", TensorProto.FLOAT, [1, 1, 320, 320])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_the_studio_offers_the_quality_network_and_the_next_cut_out_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where auto runs on the shipped network alone, the Studio says what u2net gains and fetches it with one
    click (from a loopback mirror here), with a progress bar; the page then runs auto on it, no restart."""
    import dataclasses
    import hashlib

    from _mirror import serving

    from bgapp.core import download, external

    data = _u2net_stand_in()
    model = external.REGISTRY["u2net"]
    file = dataclasses.replace(
        model.files[0],
        member="https://example.invalid/u2net.onnx",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    monkeypatch.setitem(external.REGISTRY, "u2net", dataclasses.replace(model, tool="https", files=(file,)))
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "models"))
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()
    assert not at.exception
    assert any("Sharper cut-outs with u2net" in m.value for m in at.markdown)
    assert any(c.value.startswith("auto (unet-product") for c in at.caption), [c.value for c in at.caption]
    other = AppTest.from_file("../../streamlit_app.py", default_timeout=120).run()  # a seller who says no
    next(b for b in other.button if b.label == "Not now").click().run()
    assert not other.exception and not any("Sharper cut-outs" in m.value for m in other.markdown)
    with serving() as mirror:
        mirror.files[file.name] = data
        monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{mirror.server_address[1]}/")
        next(b for b in at.button if b.label.startswith("Fetch u2net")).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert external.locate("u2net") is not None
    assert not any("Sharper cut-outs with u2net" in m.value for m in at.markdown)  # offered no more
    assert any(c.value.startswith("auto (u2net + unet-product") for c in at.caption), [c.value for c in at.caption]
