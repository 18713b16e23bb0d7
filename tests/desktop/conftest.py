"""Viewer test fixtures: isolated settings and user data, small real radiographs (PNG and DICOM made from the
shared data), tiny model bundles (one deliberately slow), and a main window that loads no shipped model."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_image

SOURCE_IMAGE = "samples/chest-xray-fullres/NORMAL"


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch):
    """Log file and user models go to a temp folder, never the real user's."""
    monkeypatch.setenv("XRAYVIEW_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata"


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.settings import AppSettings

    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture(scope="session")
def chest_source(shared_data) -> Path:
    return sorted((shared_data / SOURCE_IMAGE).iterdir())[0]


@pytest.fixture(scope="session")
def chest_png(tmp_path_factory, chest_source) -> Path:
    """A real chest radiograph shrunk to 256 px (long side), as an 8-bit PNG."""
    path = tmp_path_factory.mktemp("png") / "chest.png"
    Image.fromarray(load_gray_image(chest_source, 256)).save(path)
    return path


@pytest.fixture(scope="session")
def chest_dicom(tmp_path_factory, chest_source) -> Path:
    """The same radiograph as a 12-bit DX DICOM with Imager Pixel Spacing 0.5 mm and one window preset."""
    path = tmp_path_factory.mktemp("dcm") / "chest.dcm"
    return make_dicom_from_image(chest_source, path, size=256, bits_stored=12, spacing=(0.5, 0.5),
                                 window=[(2048, 4096, "FULL")], patient=("DOE^JANE", "PID-42"))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    from tests.helpers.tiny_models import make_tiny_bundle

    return make_tiny_bundle(tmp_path_factory.mktemp("models") / "tiny", card_overrides={
        "threshold_table": [{"threshold": t, "sensitivity": round(1 - t * 0.8, 3), "specificity": round(0.2 + t * 0.7, 3)}
                            for t in (0.1, 0.3, 0.5, 0.7, 0.9)]})


@pytest.fixture(scope="session")
def slow_bundle(tmp_path_factory) -> Path:
    from tests.helpers.tiny_models import make_tiny_bundle

    return make_tiny_bundle(tmp_path_factory.mktemp("models") / "slow", slow_ms=400, name="slow-test-model")


@pytest.fixture
def no_shipped_models(tmp_path, monkeypatch):
    """Whatever resources/models holds, the window under test sees only the bundles a test names."""
    empty = tmp_path / "no-shipped-models"
    empty.mkdir()
    monkeypatch.setattr("inference.bundle_catalog.bundled_models_dir", lambda: empty)
    return empty


@pytest.fixture
def make_window(qtbot, settings, no_shipped_models):
    """make_window(bundle=None) -> a shown MainWindow; with a bundle, returns once the model is ready."""
    from desktop.main_window import MainWindow

    def make(bundle: Path | None = None, auto_run: bool = True):
        settings.auto_run = auto_run
        settings.model_path = str(bundle) if bundle else ""
        settings.user_models_dir = str(bundle.parent) if bundle else str(no_shipped_models)
        window = MainWindow(settings)
        qtbot.addWidget(window)
        window.resize(900, 700)
        if bundle is not None:
            with qtbot.waitSignal(window.analysis.model_ready, timeout=240_000):  # torch + grad-cam imports
                window.show()
        else:
            window.show()
            qtbot.waitUntil(lambda: window.model_state == "none", timeout=60_000)
        qtbot.waitUntil(lambda: window.tools_installed, timeout=60_000)
        return window

    yield make
    from desktop.workers import Job

    assert Job.cancel_all_and_wait(20_000)
