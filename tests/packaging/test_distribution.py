"""The distribution as it would be published: built, installed in a fresh venv, and run.

Offline and fast: the sdist and the wheel are built with the backend already installed (no
build isolation, nothing downloaded), the wheel goes into a fresh venv with ``--no-deps``, and
that venv borrows the test venv's third-party packages through a ``.pth`` line placed after its
own site-packages, so ``ems`` is imported from the wheel, never from ``src/``.
"""

from __future__ import annotations

import email
import email.message
import json
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ems
from tests.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _build(kind: str, source: Path, out: Path) -> Path:
    """Run the PEP 517 hook the way a frontend does, in ``source``, without isolation."""
    hook = f"import sys, hatchling.build as b; print(b.build_{kind}(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", hook, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel), the wheel built from the unpacked sdist, as ``python -m build`` does."""
    out = tmp_path_factory.mktemp("dist")
    sdist = _build("sdist", ROOT, out)
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "unpacked", filter="data")
    (source,) = (out / "unpacked").iterdir()
    return sdist, _build("wheel", source, out)


@pytest.fixture(scope="module")
def fresh(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the wheel installed in it; returns its bin directory."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", "--disable-pip-version-check", str(built[1])],
        check=True,
        timeout=120,
    )  # fmt: skip
    return venv / "bin"


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_the_distribution_name_is_ours_and_used_everywhere() -> None:
    name = PYPROJECT["project"]["name"]
    assert name == ems.DISTRIBUTION == "easy-message-service"
    assert PYPROJECT["project"]["scripts"] == {"ems": "ems.cli:main"}
    # what sends a reader to the package index names this distribution, never plain "ems"
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "src/ems/cli.py"]:
        text = path.read_text()
        for bad in ("pip install ems", "pip install 'ems[", 'pip install "ems['):
            assert bad not in text, f"{path.name} says {bad!r}"


def test_the_metadata_is_ready_to_publish(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    metadata = _metadata(wheel)
    assert metadata["Name"] == "easy-message-service"
    assert metadata["Version"] == ems.__version__
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "curl` is a complete client" in str(metadata.get_payload())
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Typing :: Typed" in classifiers
    assert {"postgres", "test", "bench"} <= set(metadata.get_all("Provides-Extra") or [])
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("asyncpg") and "extra == 'postgres'" in r for r in requires)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    # what the server reads at run time besides its modules
    for needed in [
        "ems/py.typed",
        "ems/server/web/playground.html",
        "ems/server/web/playground.js",
        "ems/server/web/console.html",
        "ems/server/web/console.js",
        "ems/server/web/charts.js",
        "ems/storage/sqlite/sql/schema.sql",
        "ems/storage/postgres/sql/schema.sql",
        "ems/storage/sqlite/sql/migrations/0001_initial.sql",
    ]:
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))]
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", "src/ems/cli.py"} <= members


@pytest.fixture(scope="module")
def installed_server(fresh: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ems serve`` from the fresh venv, on a free port."""
    port = free_port()
    data = tmp_path_factory.mktemp("fresh-data")
    log = (data / "serve.log").open("wb")
    process = subprocess.Popen(
        [fresh / "ems", "serve", "--port", str(port), "--data-dir", str(data / "ems-data")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, (data / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_the_wheel_installs_and_runs_in_a_fresh_venv(fresh: Path, installed_server: str) -> None:
    where = subprocess.run(
        [fresh / "python", "-c",
         "import ems, ems.errors, importlib.metadata as m; "
         "print(ems.__file__); print(m.version('easy-message-service'))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert str(fresh.parent) in where[0], f"ems was imported from {where[0]}, not the wheel"
    assert where[1] == ems.__version__
    version = subprocess.run(
        [fresh / "ems", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"ems {ems.__version__}"
    # the installed server answers, and serves the files it ships (schema, pages, OpenAPI)
    queue = httpx.post(f"{installed_server}/ems/queue").json()
    sent = httpx.post(f"{installed_server}/ems/queue/{queue['queue_id']}/message", content=b"hi")
    assert sent.status_code == 201
    assert "EMS" in httpx.get(f"{installed_server}/").text
    assert json.loads(httpx.get(f"{installed_server}/ems/openapi.json").content)["openapi"]


def test_without_asyncpg_the_server_names_the_extra_to_install(fresh: Path) -> None:
    hide_driver = (
        "import sys; sys.modules['asyncpg'] = None; from ems.cli import main; "
        "sys.exit(main(['serve', '--database-url', 'postgresql://ems@127.0.0.1:1/ems']))"
    )
    done = subprocess.run(
        [fresh / "python", "-c", hide_driver],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "pip install 'easy-message-service[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr
