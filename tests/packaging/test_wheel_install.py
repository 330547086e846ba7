"""The package installs without a clone: ``python -m build`` makes an sdist and a wheel (the wheel built from
the sdist, so the sdist is complete too); the wheel goes into a fresh virtual environment outside the checkout,
and from there ``onestop-edge --validate-config`` checks a node's file, the edge loads its models with no model
path configured, and ``onestop-hub serve`` answers HTTP with its API and dashboard.

Offline: the build runs without isolation and the wheel is installed with --no-deps --no-index; the fresh
environment sees the dependencies (not this checkout) through a .pth line naming the test venv's
site-packages."""

from __future__ import annotations

import shutil
import signal
import site
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the wheel installed; returns its bin/ folder."""
    env = tmp_path_factory.mktemp("installed") / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    [wheel] = dist.glob("onestop_monitor-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies from this test's venv, appended after the venv's own site-packages. A plain path in a .pth
    # file is not a site directory: the editable install's finder there is not loaded, so the checkout stays out.
    (Path(purelib) / "onestop-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return env / "bin"


def test_build_makes_an_sdist_and_a_wheel_with_the_models_and_the_dashboard(dist: Path) -> None:
    [sdist] = dist.glob("onestop_monitor-*.tar.gz")
    [wheel] = dist.glob("onestop_monitor-*.whl")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    for name in (
        "models/person_nanodet_m.onnx",
        "models/sentiment/sentiment.onnx",
        "dashboards/web/index.html",
        "config/edge.example.yaml",
        "docs/install-edge.md",
    ):
        assert name in in_sdist, name
    for name in (
        "onestop_models/person_nanodet_m.onnx",
        "onestop_models/face_blazeface_back.onnx",
        "onestop_models/emotion_fer_mini_xception.onnx",
        "onestop_models/sentiment/sentiment.onnx",
        "onestop_models/sentiment/tokenizer.json",
        "onestop_dashboards/web/index.html",
        "onestop_dashboards/web/geo/index.json",
        "hub/default_config.yaml",
    ):
        assert name in in_wheel, name
    assert not any(name.startswith(("tests/", "models/recipes", "onestop_models/recipes")) for name in in_wheel)


def test_the_installed_edge_validates_its_config_and_finds_its_models(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    shutil.copy(ROOT / "config" / "edge.example.yaml", config)
    checked = subprocess.run(
        [str(installed / "onestop-edge"), "--config", str(config), "--validate-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK: desk bn-kinh-bac/q01" in checked.stdout

    probe = (
        "import edge, onestop_models\n"
        "from edge.camera.detectors import BlazeFaceDetector, MODELS_DIR\n"
        "from edge.camera.emotion import EmotionClassifier\n"
        "from edge.kiosk.sentiment import DEFAULT_MODEL_DIR\n"
        "with BlazeFaceDetector() as faces, EmotionClassifier() as emotions:\n"
        "    print(faces.model_path, emotions.model_path, sep='\\n')\n"
        "print(edge.__file__, MODELS_DIR, DEFAULT_MODEL_DIR / 'sentiment.onnx', sep='\\n')\n"
    )
    loaded = subprocess.run(
        [str(installed / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    paths = [Path(line) for line in loaded.stdout.split()]
    venv_root = installed.parent.resolve()
    for path in paths:
        assert path.resolve().is_relative_to(venv_root), f"{path} is not in the installed venv"
        assert not path.resolve().is_relative_to(ROOT), f"{path} comes from the checkout"
    assert paths[-1].is_file()


def test_the_installed_hub_serves_its_api_and_dashboard(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        hub = subprocess.Popen(
            [
                str(installed / "onestop-hub"),
                "serve",
                "--broker",
                broker.address,
                "--database",
                f"sqlite:///{tmp_path / 'hub.db'}",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            health = None
            deadline = time.monotonic() + 60
            while health is None:
                assert hub.poll() is None, f"onestop-hub serve exited: {hub.communicate()[0][-3000:]}"
                assert time.monotonic() < deadline, "onestop-hub serve did not answer HTTP within 60 s"
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()
                except httpx.HTTPError:
                    time.sleep(0.2)
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            assert page.status_code == 200 and "<html" in page.text.lower()
            assert httpx.get(f"http://127.0.0.1:{port}/i18n.js", timeout=5).status_code == 200
        finally:
            hub.send_signal(signal.SIGTERM)
            output = hub.communicate(timeout=30)[0]
    assert "ingest" in health
    # uvicorn shuts down cleanly on SIGTERM (the lifespan closes the record), then re-raises the signal.
    assert "Application shutdown complete" in output and hub.returncode in (0, -signal.SIGTERM), output[-3000:]
