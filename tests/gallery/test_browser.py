"""The gallery page in a real headless Chromium (Debian's package): thumbnails load, headers sort, the model links.

The page is opened from disk (``file://``), as a person would open it with
no server and no network.  A screenshot goes to ``$TMPDIR/skysieve-gallery/``.
"""

import shutil
import tempfile
from pathlib import Path

import pytest

from skysieve.gallery import write_gallery

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SHOTS = Path(tempfile.gettempdir()) / "skysieve-gallery"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install "
                                                             "chromium chromium-driver)")


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by selenium, with a fresh profile and no network."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 "--proxy-server=127.0.0.1:9", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    service = Service(str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


def _column(driver, name: str) -> list[str]:
    """The cells of column ``name``, top to bottom, as the page shows them now."""
    return driver.execute_script(
        "var h=[].slice.call(document.querySelectorAll('#candidates thead th')).map(function(t){return t.textContent"
        ".replace(/[\\u25B2\\u25BC ]/g,'');});var c=h.indexOf(arguments[0]);"
        "return [].slice.call(document.querySelectorAll('#candidates tbody tr')).map(function(r){"
        "return r.cells[c].getAttribute('data-v');});", name)


def test_the_page_renders_sorts_and_links_the_model(mm_maps, optical, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    SHOTS.mkdir(exist_ok=True)
    for (cat, images), score, url in ((mm_maps, "rank_product", "http://127.0.0.1:5000"), (optical, "score", None)):
        report = write_gallery(cat, images=images, out=tmp_path / f"gallery-{score}", mlflow_url=url,
                               echo=lambda s: None)
        browser.get(report.page.resolve().as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(
            "return [].every.call(document.images, function(i){return i.complete;})"))
        widths = browser.execute_script("return [].map.call(document.images, function(i){return i.naturalWidth;})")
        assert len(widths) == 5 and all(w > 0 for w in widths), widths  # every thumbnail (placeholder too) loads

        link = browser.find_element(By.ID, "model-link")
        if url:
            assert link.tag_name == "a"
            assert link.get_attribute("href") == f"{url}/#/models/sz-model/versions/3"
        else:
            assert link.text == "models:/lens-model/3"

        ids = _column(browser, "id")
        assert ids == ["1", "3", "2", "0", "4"]  # as written: the score, highest first
        browser.find_element(By.XPATH, "//th[normalize-space()='id']").click()
        assert _column(browser, "id") == ["0", "1", "2", "3", "4"]
        browser.find_element(By.XPATH, "//th[starts-with(normalize-space(), 'id')]").click()
        assert _column(browser, "id") == ["4", "3", "2", "1", "0"]
        browser.find_element(By.XPATH, f"//th[normalize-space()='{score}']").click()
        values = [float(v) for v in _column(browser, score)]
        assert values == sorted(values)  # ascending on the first click
        browser.save_screenshot(str(SHOTS / f"{score}.png"))
        # every row moves with its thumbnail: the placeholder stays with the row off the images (id 4)
        first = browser.execute_script("return document.querySelector('#candidates tbody tr').cells[0]"
                                       ".querySelector('img').getAttribute('src');")
        assert first.endswith("00004.png")
