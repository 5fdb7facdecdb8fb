"""Shared fixtures. Datasets under ../shared/data are read by path, never copied into the repo.

``shared_kit`` installs the small offline models (everything but the LLMs) once per session into
``$MEDIAREC_KIT_DIR`` when set (a persistent kit: later sessions only re-verify it), else into a
session temp folder, and returns settings whose ``kit_dir`` points there. Runtime packages are not
installed by the fixture; tests skip when theirs are missing (``pip install -e '.[understand]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mediarec.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDIAREC_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """Path of a shared dataset folder, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared dataset {name!r} not found at {path} (set MEDIAREC_SHARED_DATA)")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh data home."""
    return tmp_path / "home"


@pytest.fixture(scope="session")
def kit_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[Any]]:
    from mediarec.kit import DEFAULT_MODELS, install

    root = os.environ.get("MEDIAREC_KIT_DIR") or str(tmp_path_factory.mktemp("kit"))
    settings = Settings(home=str(tmp_path_factory.mktemp("kithome")), kit_dir=root)
    results = install(settings.home_path, DEFAULT_MODELS, settings=settings, runtime=False)
    return settings, results


@pytest.fixture(scope="session")
def shared_kit(kit_install: tuple[Settings, list[Any]]) -> Settings:
    """Settings pointing at the session's installed kit (small models only)."""
    return kit_install[0]


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo media catalogue (24 narrated clips with ground truth + 3 real recordings), rendered
    once per session; skips with the reason when a tool it needs is missing."""
    import shutil
    from importlib.util import find_spec

    missing = ["espeak-ng (apt-get install espeak-ng)"] if shutil.which("espeak-ng") is None else []
    modules = {
        "imageio_ffmpeg": "imageio-ffmpeg",
        "PIL": "pillow",
        "av": "av",
        "skvideo": "scikit-video",
        "moonshine_voice": "moonshine-voice",
    }
    missing += [f"pip install {pip}" for mod, pip in modules.items() if find_spec(mod) is None]
    if missing:
        pytest.skip(f"demo media tools missing: {', '.join(missing)}")
    from mediarec.datasets.media_demo import build_demo_media

    return build_demo_media(tmp_path_factory.mktemp("demo-media"))


@pytest.fixture(scope="session")
def fast_llm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The fast kit LLM (qwen-0.5b through llama.cpp), loaded once per session and shared by every
    test that needs a real model; skips with the reason when the kit or llama-cpp-python is missing."""
    from importlib.util import find_spec

    if find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python missing: pip install 'mediarec[llm]'")
    kit = os.environ.get("MEDIAREC_KIT_DIR", "")
    if not kit or not (Path(kit) / "qwen-0.5b").is_dir():
        pytest.skip("no kit with qwen-0.5b: set MEDIAREC_KIT_DIR (mediarec models install --llm fast)")
    from mediarec.llm.backends import backend_from_url

    settings = Settings(home=str(tmp_path_factory.mktemp("llmhome")), kit_dir=kit)
    return backend_from_url("llama://qwen-0.5b", settings)

# A throw-away PostgreSQL cluster (session) and a fresh database per test: tests/pg_cluster.py.
from tests.pg_cluster import pg_cluster, pg_url  # noqa: E402, F401


@pytest.fixture(scope="module")
def ray_local() -> Any:
    """A real local Ray instance (2 CPUs, no dashboard) for one test module, shut down after it; the
    code under test finds it initialised and uses it. Skips when the ray extra is missing."""
    ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'mediarec[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
