import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine  # noqa: E402

POLICY = str(ROOT / "policies" / "shanxi_2022.yaml")
EXAMPLE = str(ROOT / "examples" / "facts_2022.yaml")


@pytest.fixture(scope="session")
def policy():
    return engine.load_policy(POLICY)


@pytest.fixture
def write(tmp_path):
    """Write text to a file in a temporary folder and return its path."""
    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return _write
