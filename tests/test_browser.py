"""The page of ``ppgn serve`` in a real browser: Debian's chromium, headless, driven by selenium
through the system chromedriver, against a server started by the real command line.

Covered: the page loads with every host but 127.0.0.1 unreachable and no error in the console;
a class is sampled (the live picture, the p(y | x) plot and the final grid appear, with the
command); a bad field shows its one-line message on the page; a hole is drawn on an uploaded
image with the mouse, inpainted, and the ``.npz`` downloaded by clicking its link follows the
contract and keeps the known pixels.

Skipped, with the reason, where chromium, chromedriver or selenium is missing (``.ci/run``
installs Debian's chromium and chromium-driver). ``PPGN_SCREENSHOTS=docs`` also saves the
README's screenshots (docs/serve.png, docs/serve-inpaint.png) from a full-length chain.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ppgn.io import load_npz

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
DRIVER = shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("PPGN_SCREENSHOTS")  # a folder: save the README's screenshots there
WAIT = 600 if SCREENSHOTS else 60  # seconds for a result on a busy machine (a full-length chain for the screenshots)

try:
    import selenium  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401

    MISSING = None
except ImportError as err:
    MISSING = f"{err.name} is not installed (pip install -e '.[test]')"
if MISSING is None and (BROWSER is None or DRIVER is None):
    MISSING = "no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"browser tests skipped: {MISSING}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``ppgn serve`` in a process of its own, on a free port; its URL once it answers."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "ppgn", "serve", "--model", "fashion-mnist", "--port", str(port), "--device", "cpu"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                urllib.request.urlopen(url + "api/config", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ppgn serve did not start: {process.communicate(timeout=5)[0][-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100", "--disable-gpu",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):  # nothing but the server is reachable
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def fill(driver, field: str, value: str) -> None:
    element = driver.find_element("id", field)
    element.clear()
    element.send_keys(value)


def choose(driver, field: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", field)).select_by_value(value)


def shown(driver, field: str) -> bool:
    return driver.find_element("id", field).is_displayed()


def screenshot(driver, name: str) -> None:
    """The whole page, from the top, into the PPGN_SCREENSHOTS folder."""
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def run_and_wait(driver) -> str:
    """Click Run and wait for the job to end; the status text it ends with."""
    driver.find_element("id", "run").click()
    wait(driver, lambda d: d.find_element("id", "run").is_enabled() and d.find_element("id", "status").text not in ("", "running")
         and not d.find_element("id", "status").text.startswith(("queued", "running")))
    return driver.find_element("id", "status").text


def test_the_page_samples_a_class_live_and_shows_the_grid_and_the_command(server, browser):
    open_page(browser, server)
    assert browser.find_element("id", "model").get_attribute("value") == "fashion-mnist"
    choose(browser, "class", "Sneaker")
    num, steps = ("16", "200") if SCREENSHOTS else ("4", "12")
    fill(browser, "num", num)
    fill(browser, "steps", steps)
    assert run_and_wait(browser) == "done", browser.find_element("id", "message").text
    assert shown(browser, "live") and browser.find_element("id", "live").get_attribute("src").startswith("data:image/png")
    assert browser.find_element("id", "progress").text == f"step {steps} of {steps}"
    assert len(browser.find_element("id", "plot_line").get_attribute("points").split()) == int(steps)  # p(class) per step
    grid = browser.find_element("id", "grid")
    assert shown(browser, "grid") and browser.execute_script("return arguments[0].naturalWidth", grid) > 0
    command = browser.find_element("id", "command").text
    assert command.startswith("ppgn sample --model fashion-mnist") and "--class Sneaker" in command and f"--num {num}" in command
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # nothing failed to load
    if SCREENSHOTS:
        screenshot(browser, "serve.png")


def test_a_bad_field_shows_its_message_on_the_page(server, browser):
    open_page(browser, server)
    fill(browser, "num", "abc")
    browser.find_element("id", "run").click()
    wait(browser, lambda d: d.find_element("id", "message").is_displayed())
    message = browser.find_element("id", "message").text
    assert "--num" in message and "Traceback" not in message and "\n" not in message.strip()


def test_a_hole_drawn_with_the_mouse_is_inpainted_and_the_npz_download_follows_the_contract(server, browser, downloads, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    from ppgn.data import load_dataset

    image = np.asarray(load_dataset("fashion-mnist", "test", FIXTURES / "fashion-mnist").images[0])  # uint8 (28, 28)
    Image.fromarray(image).save(tmp_path / "coat.png")
    open_page(browser, server)
    browser.find_element("css selector", "button[data-tab=inpaint]").click()
    browser.find_element("id", "inpaint_file").send_keys(str(tmp_path / "coat.png"))
    canvas = browser.find_element("id", "inpaint_canvas")
    wait(browser, lambda d: d.execute_script("return !!state.inpaint.image"))
    # Drag across the middle of the 280-pixel canvas: a stroke 10 image pixels (100 screen pixels) long.
    ActionChains(browser).move_to_element_with_offset(canvas, -50, 0).click_and_hold().move_by_offset(25, 0) \
        .move_by_offset(25, 0).move_by_offset(25, 0).move_by_offset(25, 0).release().perform()
    assert browser.execute_script("return state.inpaint.holes") > 0
    fill(browser, "inpaint_num", "2")
    fill(browser, "inpaint_steps", "12" if not SCREENSHOTS else "200")
    choose(browser, "inpaint_class", "Coat")
    assert run_and_wait(browser) == "done", browser.find_element("id", "message").text
    if SCREENSHOTS:
        screenshot(browser, "serve-inpaint.png")
    assert "--image input.png --mask mask.png" in browser.find_element("id", "command").text
    browser.find_element("id", "download-samples-npz").click()
    path = downloads / "samples.npz"
    wait(browser, lambda d: path.is_file() and not list(downloads.glob("*.crdownload")))
    data = load_npz(path, num_classes=10)  # the contract: keys, dtypes, shapes, labels in range
    assert data["images"].shape == (2, 28, 28, 1) and data["labels"].tolist() == [4, 4]
    mask_url = browser.find_element("id", "download-mask-png").get_attribute("href")
    hole = np.asarray(Image.open(urllib.request.urlopen(mask_url))) > 127
    assert 5 <= hole.sum() < 28 * 28 / 2  # the stroke, not the whole image
    assert hole[14, 9:19].all()  # along the drag, through the middle row
    kept = ~hole
    assert (data["images"][:, kept, 0] == image[kept]).all()  # the real pixels outside the hole
