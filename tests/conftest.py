import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import subsidy_rules  # noqa: E402

# the command line's language comes from the policy; where there is none, from --lang or SUBSIDY_LANG, else English:
# the tests say which they mean, whatever the shell that runs them exports
os.environ.pop("SUBSIDY_LANG", None)

POLICY = str(ROOT / "policies" / "shanxi_2022.yaml")
EXAMPLE = str(ROOT / "examples" / "facts_2022.yaml")


@pytest.fixture(scope="session")
def policy():
    return subsidy_rules.load_policy(POLICY)


@pytest.fixture(scope="session")
def en_policy(tmp_path_factory):
    """The bundled policy asking for English (``report.lang: en``): the command line's own lines are then in English,
    the catalog's fallback; its labels stay the policy's."""
    text = Path(POLICY).read_text(encoding="utf-8")
    assert text.count("report.lang: zh-CN") == 1
    path = tmp_path_factory.mktemp("en") / "policy_en.yaml"
    path.write_text(text.replace("report.lang: zh-CN", "report.lang: en"), encoding="utf-8")
    return str(path)


@pytest.fixture
def write(tmp_path):
    """Write text to a file in a temporary folder and return its path."""
    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return _write


# --- ledgers: SQLite always; PostgreSQL too when SUBSIDY_TEST_POSTGRES names a server (.ci/postgres starts one) -----

POSTGRES = os.environ.get("SUBSIDY_TEST_POSTGRES")
LEDGER_DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES else [])


def pytest_report_header(config):
    return f"ledger databases: {', '.join(LEDGER_DATABASES)}" + (
        "" if POSTGRES else " (export SUBSIDY_TEST_POSTGRES=$(bash .ci/postgres start $(mktemp -d)) to add PostgreSQL)")


def pytest_configure(config):
    if os.environ.get("CI") and not POSTGRES:
        raise pytest.UsageError("CI runs the ledger tests on PostgreSQL too: .ci/run sets SUBSIDY_TEST_POSTGRES")


@pytest.fixture(params=LEDGER_DATABASES)
def database_url(request, tmp_path):
    """A database with no ledger in it: a SQLite file not there yet, or a fresh PostgreSQL database dropped
    afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url
    admin = make_url(POSTGRES)
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def ledger_url(database_url):
    """A new, empty ledger, created as `subsidy ledger init URL` creates one (a ledger is created on purpose:
    every other command refuses a URL that holds none)."""
    from subsidy_rules.ledger import init_ledger
    ledger, _ = init_ledger(database_url)
    ledger.close()
    return database_url
