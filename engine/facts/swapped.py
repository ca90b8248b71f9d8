"""POLICY and FACTS given in the wrong order: one problem that says so, instead of a policy's every missing part."""
from __future__ import annotations

from typing import Optional

from ..locale import language, say
from ..problems import InvalidInput, Location, Problem


def swapped(policy_path: str, facts_path: str, command: Optional[str] = None) -> Optional[InvalidInput]:
    """The problem to report when ``policy_path`` holds facts and ``facts_path`` a policy, else None."""
    from ..policy.loader import load_policy
    from ..source import read_file
    from .workbook import is_roster
    if not is_roster(policy_path):
        try:
            data = read_file(policy_path).data
        except InvalidInput:
            return None
        if not isinstance(data, dict) or "period" not in data or "rules" in data:
            return None
    try:
        policy = load_policy(facts_path)
    except (InvalidInput, OSError):
        return None
    lang = language(policy)
    return InvalidInput([Problem("input.swapped", say("swapped", lang, given=policy_path, other=facts_path), "",
                                 Location(policy_path),
                                 hint=say("hint.swapped", lang, command=command or "evaluate", policy=facts_path,
                                          facts=policy_path))])
