"""The production deploy files, checked as files: no Docker engine runs where the tests do.

docker-compose.yml is read with PyYAML (which resolves the `<<: *anchor` merges the way Compose does),
the Dockerfile and .env.example as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
REDASH_SERVICES = ("redash-server", "redash-scheduler", "redash-worker")
EXPECTED_SERVICES = ("postgres", "redis", *AIRFLOW_SERVICES, *REDASH_SERVICES, "seaweedfs")
HEALTHCHECKED_SERVICES = ("postgres", "redis", "airflow-apiserver")
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY", "TOKEN")

# `$${X}` is Compose's escape for a literal `${X}` seen by the container's shell: not a reference.
REFERENCE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>[^}]*)\}")
# A secret must be required: `${NAME:?message}` (set and non-empty) or `${NAME?message}` (set, may be
# empty), never a default (`:-`) and never a literal.
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")
URL_PASSWORD = re.compile(r"://[^/@\s:]+:(?P<password>[^@/\s]+)@")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(block: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, in mapping or `KEY=VALUE` list form, as strings."""
    env = block.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """`depends_on` as {service: condition}; the short list form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def strings(node: Any) -> Iterator[str]:
    """Every string value anywhere in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def secret_literals(env: dict[str, str]) -> list[str]:
    """Keys that look secret and whose value is anything but a required `${...}` reference."""
    return sorted(
        key
        for key, value in env.items()
        if any(word in key.upper() for word in SECRET_WORDS) and not REQUIRED_REFERENCE.fullmatch(value)
    )


def url_password_literals(text: str) -> list[str]:
    """Passwords written into URLs (`scheme://user:password@host`) that are not `${...}` references."""
    masked = REFERENCE.sub("REFERENCE", text)
    return [m.group("password") for m in URL_PASSWORD.finditer(masked) if m.group("password") != "REFERENCE"]


def env_example_names() -> list[str]:
    names = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, sep, _ = stripped.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            names.append(name.strip())
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            instructions.append((word.upper(), " ".join(rest.split())))
    return instructions


# --- the helpers themselves: the checks below are only as good as these -------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"DB_PASSWORD": "hunter2"}, ["DB_PASSWORD"], id="literal"),
        pytest.param({"API_KEY": "${API_KEY:-dev}"}, ["API_KEY"], id="default-is-not-required"),
        pytest.param({"X_TOKEN": "prefix-${X_TOKEN:?set it}"}, ["X_TOKEN"], id="partly-literal"),
        pytest.param({"COOKIE_SECRET": ""}, ["COOKIE_SECRET"], id="empty"),
        pytest.param({"COOKIE_SECRET": "${COOKIE_SECRET:?set it}"}, [], id="required"),
        pytest.param({"REDASH_KEY": "${REDASH_KEY?set it}"}, [], id="required-may-be-empty"),
        pytest.param({"EXECUTOR": "CeleryExecutor"}, [], id="not-a-secret"),
    ],
)
def test_secret_literals_finds_literals(env: dict[str, str], expected: list[str]) -> None:
    assert secret_literals(env) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("postgresql://blc:hunter2@postgres/blc", ["hunter2"], id="literal"),
        pytest.param("postgresql://blc:${PW:?set PW in .env}@postgres/blc", [], id="reference"),
        pytest.param("redis://redis:6379/0", [], id="no-userinfo"),
    ],
)
def test_url_password_literals_finds_literals(text: str, expected: list[str]) -> None:
    assert url_password_literals(text) == expected


# --- docker-compose.yml -------------------------------------------------------------------------------


def test_compose_has_every_service(services: dict[str, Any]) -> None:
    assert sorted(set(EXPECTED_SERVICES) - set(services)) == []


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_uses_common_image_and_env(compose: dict[str, Any], name: str) -> None:
    common = compose["x-airflow-common"]
    service = compose["services"][name]

    assert service["build"] == common["build"]
    assert service["image"] == common["image"]
    env = environment(service)
    assert {key: env.get(key) for key in environment(common)} == environment(common)


def test_airflow_common_build_uses_the_dockerfile(compose: dict[str, Any]) -> None:
    build = compose["x-airflow-common"]["build"]

    assert build["context"] == "."
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


def test_executor_is_celery_with_execution_api_on_the_apiserver(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    env = environment(compose["x-airflow-common"])
    url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    container_ports = {str(port).rsplit(":", 1)[-1] for port in services["airflow-apiserver"]["ports"]}

    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert (url.scheme, url.hostname, url.path) == ("http", "airflow-apiserver", "/execution/")
    assert str(url.port) in container_ports


@pytest.mark.parametrize(
    ("name", "command_word"),
    [
        pytest.param("airflow-apiserver", "airflow api-server", id="apiserver"),
        pytest.param("airflow-scheduler", "scheduler", id="scheduler"),
        pytest.param("airflow-dag-processor", "dag-processor", id="dag-processor"),
        pytest.param("airflow-triggerer", "triggerer", id="triggerer"),
        pytest.param("airflow-worker", "celery worker", id="worker"),
        pytest.param("airflow-init", "airflow db migrate && blc db upgrade", id="init"),
        pytest.param("airflow-init", "airflow pools set blc_db_loads", id="init-pool"),
    ],
)
def test_airflow_service_runs_its_component(services: dict[str, Any], name: str, command_word: str) -> None:
    command = services[name]["command"]
    text = command if isinstance(command, str) else " ".join(command)

    assert command_word in text


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_has_blc_settings(services: dict[str, Any], name: str) -> None:
    env = environment(services[name])
    database_url = urlsplit(REFERENCE.sub("x", env["BLC_DATABASE_URL"]))

    assert (database_url.scheme, database_url.path) == ("postgresql", "/blc")
    assert env["BLC_SHARE_DIRS"] == "/data/drops"
    assert env["BLC_REDASH_URL"] == "http://redash-server:5000"
    for key in ("BLC_S3_URIS", "BLC_SETTLE_SECONDS", "BLC_REDASH_API_KEY", "AIRFLOW_CONN_BLC_S3"):
        assert key in env, key


def test_airflow_mounts_the_lab_share(compose: dict[str, Any]) -> None:
    # Mask `${HOST_DIR:?message}` first: its message may hold colons.
    targets = [
        REFERENCE.sub("x", str(volume)).split(":")[1] for volume in compose["x-airflow-common"]["volumes"]
    ]

    assert "/data/drops" in targets


def test_s3_connection_is_aws_with_endpoint_url(compose: dict[str, Any]) -> None:
    raw = environment(compose["x-airflow-common"])["AIRFLOW_CONN_BLC_S3"]
    conn = json.loads(REFERENCE.sub("x", raw))

    assert conn["conn_type"] == "aws"
    assert "endpoint_url" in conn["extra"]
    assert re.search(r'"login":\s*"\$\{', raw) and re.search(r'"password":\s*"\$\{', raw)


@pytest.mark.parametrize(
    ("key", "conn_type", "secret"),
    [
        pytest.param("AIRFLOW_CONN_BLC_DB", "postgres", "BLC_DB_PASSWORD", id="blc_db"),
        pytest.param("AIRFLOW_CONN_BLC_REDASH", "http", "BLC_REDASH_API_KEY", id="blc_redash"),
    ],
)
def test_blc_connections_exist_and_carry_no_literal_secret(
    compose: dict[str, Any], key: str, conn_type: str, secret: str
) -> None:
    conn = json.loads(environment(compose["x-airflow-common"])[key])
    fields = {name: str(value) for name, value in conn.items() if name != "extra"}
    reference = REFERENCE.fullmatch(conn["password"])

    assert conn["conn_type"] == conn_type
    assert secret_literals(fields) == []  # the password is a required reference, of the right variable
    assert reference is not None and reference.group("name") == secret


def _with_defaults(text: str) -> str:
    """Compose's interpolation with an empty .env: `${X:-default}` → default, any other reference → x."""
    return REFERENCE.sub(
        lambda m: m.group("modifier")[2:] if m.group("modifier").startswith(":-") else "x", text
    )


def test_blc_connections_name_what_the_cli_variables_name(compose: dict[str, Any]) -> None:
    from airflow.sdk import Connection

    env = environment(compose["x-airflow-common"])
    database = Connection.from_json(_with_defaults(env["AIRFLOW_CONN_BLC_DB"]), conn_id="blc_db")
    redash = Connection.from_json(_with_defaults(env["AIRFLOW_CONN_BLC_REDASH"]), conn_id="blc_redash")
    url = urlsplit(_with_defaults(env["BLC_DATABASE_URL"]))

    assert (database.host, database.port, database.schema, database.login) == (
        url.hostname,
        url.port,
        url.path.lstrip("/"),
        url.username,
    )
    assert f"{redash.schema}://{redash.host}:{redash.port}" == env["BLC_REDASH_URL"]


def test_no_secret_literal_in_any_environment(compose: dict[str, Any]) -> None:
    blocks = {f"services.{name}": service for name, service in compose["services"].items()}
    blocks |= {key: value for key, value in compose.items() if key.startswith("x-")}

    offenders = {
        where: found for where, block in blocks.items() if (found := secret_literals(environment(block)))
    }

    assert offenders == {}


def test_no_password_literal_in_any_url(compose: dict[str, Any]) -> None:
    assert [found for text in strings(compose) for found in url_password_literals(text)] == []


def test_every_depends_on_names_a_service_and_a_known_condition(services: dict[str, Any]) -> None:
    problems = []
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            if dependency not in services:
                problems.append(f"{name} → {dependency}: no such service")
            elif condition not in CONDITIONS:
                problems.append(f"{name} → {dependency}: unknown condition {condition}")
            elif condition == "service_healthy" and "healthcheck" not in services[dependency]:
                problems.append(f"{name} → {dependency}: waits for health but there is no healthcheck")

    assert problems == []


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES[1:], *REDASH_SERVICES])
def test_service_waits_for_healthy_postgres_and_redis(services: dict[str, Any], name: str) -> None:
    deps = depends_on(services[name])

    assert (deps.get("postgres"), deps.get("redis")) == ("service_healthy", "service_healthy")


@pytest.mark.parametrize("name", AIRFLOW_SERVICES[1:])
def test_airflow_service_waits_for_init(services: dict[str, Any], name: str) -> None:
    assert depends_on(services[name]).get("airflow-init") == "service_completed_successfully"


@pytest.mark.parametrize("name", HEALTHCHECKED_SERVICES)
def test_service_has_healthcheck(services: dict[str, Any], name: str) -> None:
    healthcheck = services[name].get("healthcheck") or {}

    assert healthcheck.get("test")
    assert not healthcheck.get("disable", False)


def test_apiserver_healthcheck_uses_monitor_health(services: dict[str, Any]) -> None:
    assert "/api/v2/monitor/health" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", REDASH_SERVICES)
def test_redash_service_uses_pinned_image_and_its_own_database(services: dict[str, Any], name: str) -> None:
    env = environment(services[name])

    assert services[name]["image"] == "redash/redash:25.1.0"
    assert urlsplit(REFERENCE.sub("x", env["REDASH_DATABASE_URL"])).path == "/redash"
    assert env["REDASH_REDIS_URL"].startswith("redis://")
    assert {"REDASH_COOKIE_SECRET", "REDASH_SECRET_KEY"} <= env.keys()


def test_seaweedfs_is_optional_under_s3_profile(services: dict[str, Any]) -> None:
    seaweedfs = services["seaweedfs"]
    command = seaweedfs["command"]

    assert seaweedfs.get("profiles") == ["s3"]
    assert REFERENCE.sub(lambda m: m.group("modifier").lstrip(":-"), seaweedfs["image"]).startswith(
        "chrislusf/seaweedfs"
    )
    assert "server -s3" in (command if isinstance(command, str) else " ".join(command))


def test_postgres_runs_the_init_script(services: dict[str, Any]) -> None:
    postgres = services["postgres"]

    assert postgres["image"].split(":")[0] == "postgres" and postgres["image"].split(":")[1].startswith("16")
    assert "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/10-init.sql:ro" in postgres["volumes"]


# --- deploy/postgres/init.sql, Dockerfile, .env.example -------------------------------------------------


def test_init_sql_creates_databases_with_owners_and_no_password_literal() -> None:
    sql = INIT_SQL.read_text(encoding="utf-8").lower()

    for database, owner in (("airflow", "airflow"), ("blc", "blc_owner"), ("redash", "redash")):
        assert re.search(rf"create role {owner} login (createrole )?password :'\w+';", sql), owner
        assert f"create database {database} owner {owner};" in sql, database
    assert not re.search(r"password\s+'", sql)
    # the blc owner makes blc_reader (migration 0018) and one read-only role per project
    assert "create role blc_owner login createrole password" in sql


def test_dockerfile_from_pins_airflow_3_3_2() -> None:
    froms = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]

    assert froms == ["apache/airflow:3.3.2-python3.11"]


def test_dockerfile_installs_the_runtime_lock_and_project() -> None:
    runs = " ".join(args for instruction, args in dockerfile_instructions() if instruction == "RUN")

    assert re.search(r"pip install .*-r \S*requirements-runtime\.lock", runs)
    assert "requirements.lock" not in runs  # the development lock (test tools, the GPL reader) stays out
    assert re.search(r"pip install .*--no-deps", runs)
    assert re.search(r"apt-get install .*\bmdbtools\b", runs)  # Arbin .res files need mdb-export


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)==(\S+)", path.read_text(), re.MULTILINE))


def test_runtime_lock_has_no_dev_extra_and_the_development_pins() -> None:
    runtime, development = _pins(ROOT / "requirements-runtime.lock"), _pins(ROOT / "requirements.lock")

    assert not {"pytest", "pytest-timeout", "ruff", "mypy", "galvani"} & set(runtime)
    assert {"apache-airflow", "apache-airflow-providers-celery", "celery", "great-expectations"} <= set(
        runtime
    )
    assert {name: version for name, version in runtime.items() if development.get(name) != version} == {}
    assert runtime["celery"].startswith("5.6.")  # 5.7.0 breaks the Celery executor


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = REFERENCE.sub(lambda m: m.group("modifier").removeprefix(":-"), service.get("image", ""))
        if not image and "<<" not in service and "build" in service:
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image!r}"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    one_shot = {name for name, service in services.items() if service.get("restart") == "no"}
    missing = [
        n for n, s in services.items() if n not in one_shot and not (s.get("healthcheck") or {}).get("test")
    ]

    assert missing == []


@pytest.mark.parametrize("directory", ["dags", "plugins", "sql", "expectations", "redash"])
def test_dockerfile_copies_project_directory(directory: str) -> None:
    copies = [args.split() for instruction, args in dockerfile_instructions() if instruction == "COPY"]

    assert any(
        f"{directory}/" in words[:-1] and words[-1] == f"/opt/airflow/{directory}/" for words in copies
    )


def test_dockerfile_points_airflow_at_the_copied_folders() -> None:
    env = " ".join(args for instruction, args in dockerfile_instructions() if instruction == "ENV")

    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags" in env
    assert "AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins" in env
    assert "BLC_PROJECT_ROOT=/opt/airflow" in env


def test_env_example_names_every_compose_variable(compose: dict[str, Any]) -> None:
    referenced = {m.group("name") for text in strings(compose) for m in REFERENCE.finditer(text)}

    assert sorted(referenced - set(env_example_names())) == []


def test_env_example_names_each_variable_once() -> None:
    names = env_example_names()

    assert sorted({name for name in names if names.count(name) > 1}) == []


def test_every_bind_mount_source_is_in_the_repository(services: dict[str, Any]) -> None:
    sources = [
        str(volume).split(":", 1)[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if str(volume).startswith("./")
    ]

    assert sources, "no bind mount found: the test looks in the wrong place"
    assert [source for source in sources if not (ROOT / source).exists()] == []
