"""docker-compose.yml, read as data (this machine has no Docker engine), and the README's URL for it."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def service() -> dict:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]["postgres"] | {"_volumes": compose.get("volumes", {})}


def test_image_is_postgres_18(service):
    assert service["image"] == "postgres:18"


def test_port_published_on_loopback_only(service):
    for port in service["ports"]:
        assert str(port).startswith("127.0.0.1:"), f"{port} would be reachable from other machines"


def test_healthcheck_uses_pg_isready(service):
    test = service["healthcheck"]["test"]
    assert "pg_isready" in (" ".join(test) if isinstance(test, list) else test)


def test_data_on_a_named_volume(service):
    named = [v.split(":")[0] for v in service["volumes"]]
    assert named and all(name in service["_volumes"] for name in named)


def test_readme_database_url_matches_compose(service):
    readme = (ROOT / "README.md").read_text()
    urls = set(re.findall(r"DATABASE_URL=(postgresql://\S+)", readme))
    assert urls, "the README must show the DATABASE_URL for docker compose"
    url = make_url(urls.pop())
    env = service["environment"]
    host_port, container_port = str(service["ports"][0]).rsplit(":", 2)[-2:]
    assert url.username == env["POSTGRES_USER"]
    assert url.password == env["POSTGRES_PASSWORD"]
    assert url.database == env["POSTGRES_DB"]
    assert url.host == "127.0.0.1" and str(url.port) == host_port and container_port == "5432"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose plugin on this machine",
)
def test_docker_compose_config_accepts_the_file():
    subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], check=True)
