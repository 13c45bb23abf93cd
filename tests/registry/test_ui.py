"""The MLflow UI, opened in headless Chromium, shows what skysieve registered so a person can read it.

A real ``mlflow server`` on a free loopback port serves a SQLite store in
which :func:`~skysieve.registry.register_ensemble` registered a version: the
experiment opens on its runs with the data in the Dataset column, the
version page shows its Markdown description (metrics table, data, how to
promote), and the logged model's page lists its test metrics.  Screenshots go
to ``$TMPDIR/skysieve-ui/``.
"""

import shutil
import tempfile
from pathlib import Path

import pytest

from skysieve._server import free_port, mlflow_server_command, start_mlflow_server
from skysieve._tracking import ui_experiment_url
from skysieve.registry import register_ensemble
from tests.registry.conftest import provenance_for

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
NAME = "sz-ensemble-ui"
SHOTS = Path(tempfile.gettempdir()) / "skysieve-ui"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install "
                                                             "chromium chromium-driver)")


@pytest.fixture
def served(mlflow_store, fitted, tmp_path, monkeypatch):
    """(server URL, experiment id, model version) after registering a version, the server stopped afterwards."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    ens, _, _, metrics = fitted
    metrics = {**metrics, "rank_product": {**metrics["rank_product"], "f1_lo": 0.71, "f1_hi": 0.88}}
    mv = register_ensemble(ens, NAME, task="sz", test_metrics=metrics, provenance=provenance_for(),
                           params={"train_sz": {"epochs": 3}})
    experiment = mlflow.get_experiment_by_name("sz").experiment_id
    port = free_port()
    cmd = mlflow_server_command(backend_store_uri=mlflow_store, artifacts_destination=str(tmp_path / "served"),
                                port=port, workers=1)
    with start_mlflow_server(cmd, log=tmp_path / "server.log", url=f"http://127.0.0.1:{port}", timeout=180) as server:
        yield server.url, experiment, mv


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by selenium, with a fresh profile."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1600,1100",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    service = Service(str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


def _page(driver, url: str, *texts: str, shot: str, timeout: float = 60.0) -> str:
    """Open ``url``, wait until the page shows every one of ``texts``, screenshot it; return the page's text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def body(d) -> str:
        return d.find_element(By.TAG_NAME, "body").text

    driver.get(url)
    SHOTS.mkdir(exist_ok=True)
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: all(t in body(d) for t in texts))
    except TimeoutException:
        driver.save_screenshot(str(SHOTS / f"{shot}-failed.png"))
        missing = [t for t in texts if t not in body(driver)]
        pytest.fail(f"{url} never showed {missing}; it shows:\n{body(driver)[:3000]}")
    driver.save_screenshot(str(SHOTS / f"{shot}.png"))
    return body(driver)


def test_the_ui_shows_runs_data_description_and_metrics(served, browser):
    url, experiment, mv = served
    run_id = mv.tags["run_id"]

    # the experiment opens on its training runs, the data version in the Dataset column
    text = _page(browser, ui_experiment_url(url, experiment), "Run Name", "Dataset", "data/sz/cutouts (a1b2c3.dir)",
                 "register", shot="experiment-runs")
    assert "No data available for the selected time range" not in text  # not the (empty) GenAI traces overview

    # the version: short tags, and a description with the metrics table, the data and how to promote it
    text = _page(browser, f"{url}/#/models/{NAME}/versions/{mv.version}", "Test metrics", "Promote",
                 shot="model-version")
    assert "rank_product (primary)" in text and "0.71" in text and "0.88" in text  # F1 with its interval
    assert "data/sz/cutouts" in text and "a1b2c3.dir" in text and "0123abcd" in text
    assert f"skysieve promote {NAME} --version {mv.version}" in text
    assert '{"train_sz"' not in text  # the params are a stored document, not a tag

    # the logged model behind it lists the test metrics, measured on the data version
    model_id = mv.source.removeprefix("models:/")
    text = _page(browser, f"{url}/#/experiments/{experiment}/models/{model_id}", "Metrics", "test.rank_product.f1",
                 shot="logged-model")
    assert "data/sz/cutouts (#a1b2c3.dir)" in text and "test.cnn.roc_auc" in text

    # the registering run lists the same metrics, for charting versions against each other
    text = _page(browser, f"{url}/#/experiments/{experiment}/runs/{run_id}", "test.rank_product.f1_lo",
                 shot="register-run")
