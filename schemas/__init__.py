"""The project's JSON Schemas: policy files, facts, and decisions output."""
import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    """The schema ``name`` (``policy``, ``facts`` or ``decisions``) as a dict."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8"))
