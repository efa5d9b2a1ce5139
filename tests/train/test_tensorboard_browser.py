"""TensorBoard in a real browser: a tiny run's audio and spectrograms show in headless Chromium.

Needs Debian's chromium + chromium-driver (``apt-get install chromium chromium-driver``; .ci/run
installs them when it can) and selenium; skipped with a message otherwise. No browser download.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from wavegen.config import load_config
from wavegen.train import build_task
from wavegen.train.loop import fit

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
    ),
]

# TensorBoard's dashboards live in nested shadow DOMs; this walks them all.
FIND_ALL = """
const want = arguments[0];
const out = [];
function walk(node) {
  if (!node) return;
  if (node.nodeType === 1 && node.tagName.toLowerCase() === want) out.push(node);
  if (node.shadowRoot) walk(node.shadowRoot);
  for (const child of node.children || []) walk(child);
}
walk(document.documentElement);
return out;
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tensorboard_url(tmp_path):
    cfg = load_config(str(REPO / "experiments" / "quickstart.py") + ":tiny", ["train.num_steps=2"])
    fit(build_task(cfg), tmp_path / "run", progress=False)
    port = _free_port()
    tb = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path / "run"),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/data/logdir", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("tensorboard did not start within 60 s")
        yield url
    finally:
        tb.terminate()
        tb.wait(timeout=30)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--window-size=1400,1000"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver, tag: str, predicate, timeout: float = 60.0) -> list:
    deadline = time.time() + timeout
    found: list = []
    while time.time() < deadline:
        found = [e for e in driver.execute_script(FIND_ALL, tag) if predicate(driver, e)]
        if found:
            return found
        time.sleep(0.5)
    return found


def test_audio_and_spectrograms_show_in_the_browser(tensorboard_url, browser, tmp_path):
    browser.get(tensorboard_url + "/#audio")
    audios = _wait_for(
        browser, "audio",
        lambda d, e: (d.execute_script("return arguments[0].currentSrc || arguments[0].src", e)
                      or "").find("/data/plugin/audio/") >= 0,
    )  # fmt: skip
    browser.save_screenshot(str(tmp_path / "audio_dashboard.png"))
    assert audios, "no <audio> element with a TensorBoard audio source on the audio dashboard"
    # Playable: the browser loaded enough of the WAV to know its duration (16384 / 16 kHz ≈ 1.02 s).
    el = audios[0]
    deadline = time.time() + 30
    duration = None
    while time.time() < deadline:
        browser.execute_script(
            "arguments[0].load && arguments[0].readyState === 0 && arguments[0].load()", el
        )
        duration = browser.execute_script("return arguments[0].duration", el)
        if duration and duration == duration:  # not NaN
            break
        time.sleep(0.5)
    assert duration == pytest.approx(16384 / 16000, abs=0.01), duration

    browser.get(tensorboard_url + "/#images")
    images = _wait_for(
        browser, "img",
        lambda d, e: "/data/plugin/images/" in (e.get_attribute("src") or "")
        and d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", e) > 0,
    )  # fmt: skip
    browser.save_screenshot(str(tmp_path / "images_dashboard.png"))
    assert images, "no loaded spectrogram <img> on the images dashboard"
