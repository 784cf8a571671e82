"""Deployable (issue 16.4): the image, compose.yaml, config/docker.toml, the systemd unit.

The image itself is built only where a Docker daemon answers (the test says why it skipped);
everything else is read with real parsers and checked against the other files, so a volume
renamed in one place, or a unit that no longer runs `digest serve`, fails here.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from digest import __version__
from digest.cli import app
from digest.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DOCKER_CONFIG = ROOT / "config" / "docker.toml"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _arguments(rest: str) -> list[str]:
    """An instruction's arguments, in exec (JSON) form or shell form."""
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


def _declared_volumes() -> list[str]:
    return [
        path
        for keyword, rest in _instructions()
        if keyword == "VOLUME"
        for path in _arguments(rest)
    ]


def _final_stage() -> list[tuple[str, str]]:
    """The instructions of the image that runs: those after the last FROM."""
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    pairs = [item for keyword, rest in stage if keyword == "ENV" for item in shlex.split(rest)]
    return dict(pair.split("=", 1) for pair in pairs)


def test_dockerfile_is_small_non_root_with_its_data_directory_a_volume() -> None:
    instructions = _instructions()
    assert all(
        rest.split()[0] == "python:3.11-slim" for keyword, rest in instructions if keyword == "FROM"
    )
    installs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip " in rest]
    assert installs and all("--no-cache-dir" in rest for rest in installs)

    stage = _final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = _env(stage)
    assert _declared_volumes() == [env["DIGEST_HOME"]]
    entrypoint = [_arguments(rest) for keyword, rest in stage if keyword == "ENTRYPOINT"]
    command = [_arguments(rest) for keyword, rest in stage if keyword == "CMD"]
    assert entrypoint[-1] == ["digest"] and command[-1][0] == "serve"
    port = command[-1][command[-1].index("--port") + 1]
    healthchecks = [rest for keyword, rest in stage if keyword == "HEALTHCHECK"]
    assert healthchecks and f"127.0.0.1:{port}/healthz" in healthchecks[-1]
    # the configuration the image runs is in it, where $DIGEST_CONFIG says
    copies = [_arguments(rest) for keyword, rest in stage if keyword == "COPY"]
    assert ["config/", "config/"] in copies and env["DIGEST_CONFIG"] == "/app/config/docker.toml"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves `path` (relative to the context) out: a pattern matching
    the path or one of its folders excludes it (none of ours uses `!`)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, p) for p in patterns for prefix in prefixes)


def test_dockerignore_keeps_what_the_build_needs_and_leaves_secrets_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)
    needed = ["pyproject.toml", "README.md", "LICENSE", "digest/__init__.py", "digest/templates"]
    needed += [str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*") if p.is_file()]
    needed += [str(p.relative_to(ROOT)) for p in (ROOT / "config").rglob("*") if p.is_file()]
    needed += ["digest/store/alembic.ini", "digest/locale/de/LC_MESSAGES/digest.mo"]
    assert [path for path in needed if _ignored(path, patterns)] == []
    for secret_or_bulk in ("digest.env", ".env", ".git/config", ".venv/bin/python", "tests/x.py"):
        assert _ignored(secret_or_bulk, patterns), secret_or_bulk


def test_compose_starts_postgres_and_digest_serve_on_the_image_volume() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    postgres, digest = services["postgres"], services["digest"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert digest["build"] == "."
    assert digest["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert digest.get("command") is None  # the image's own: `serve` on config/docker.toml

    mounts = [volume.split(":") for volume in digest["volumes"]]
    named = [source for source, target, *_ in mounts if target in _declared_volumes()]
    assert named and named[0] in compose["volumes"]  # a named volume: it outlives the container

    # config/docker.toml's store is this PostgreSQL, as its user, in its database
    store = urlsplit(load_config(DOCKER_CONFIG).store.url or "")
    assert store.scheme == "postgresql+psycopg" and store.hostname in services
    environment = postgres["environment"]
    assert store.username == environment["POSTGRES_USER"]
    assert store.path.lstrip("/") == environment["POSTGRES_DB"]
    assert store.password is None  # the secret comes from $PGPASSWORD, set for the service
    assert digest["environment"]["PGPASSWORD"] == environment["POSTGRES_PASSWORD"]
    published = [port.split(":")[-1] for port in digest["ports"]]
    assert published == ["8080"]


def test_the_container_configuration_passes_check(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["check", "--config", str(DOCKER_CONFIG)],
        env={"DIGEST_HOME": str(tmp_path), "DIGEST_CONFIG": None},
    )
    assert result.exit_code == 0, result.output
    assert "store: postgresql+psycopg://digest@postgres:5432/digest" in result.stdout
    assert "example" in result.stdout


class _Unit(configparser.ConfigParser):
    """INI as systemd writes it: keys keep their case (ExecStart, not execstart)."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _systemd_unit() -> configparser.ConfigParser:
    """The unit file shown in the README's "Deploying" section, parsed as an INI file."""
    readme = (ROOT / "README.md").read_text()
    deploying = readme.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```ini\n(.*?)```", deploying, re.DOTALL)
    assert len(blocks) == 1
    unit = _Unit(interpolation=None, strict=True)  # strict: a key given twice is an error
    unit.read_string(blocks[0])
    return unit


def test_the_systemd_unit_in_the_readme_runs_digest_serve() -> None:
    unit = _systemd_unit()
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "digest" and command[1] == "serve"
    assert service["User"] not in ("root", "0")
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/")
    environment = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))
    assert environment["DIGEST_HOME"] == f"/var/lib/{service['StateDirectory']}"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.slow
def test_the_image_builds_and_runs_digest() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        reason = (info.stderr.strip() or info.stdout.strip()).splitlines()
        pytest.skip(f"docker daemon not reachable: {reason[-1] if reason else info.returncode}")
    tag = f"digest-test:{uuid.uuid4().hex[:12]}"
    try:
        subprocess.run([docker, "build", "--tag", tag, str(ROOT)], check=True, timeout=1800)
        version = subprocess.run(
            [docker, "run", "--rm", tag, "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert version.stdout.strip() == f"digest {__version__}"
        user = subprocess.run(
            [docker, "image", "inspect", "--format", "{{.Config.User}}", tag],
            capture_output=True,
            text=True,
            check=True,
        )
        assert user.stdout.strip() == "digest"
    finally:
        subprocess.run([docker, "image", "rm", "--force", tag], capture_output=True, timeout=120)
