"""Forks by overlay: a policy file that ``extends`` another and changes it by id.

A fork holds ``extends: PARENT`` (a path relative to the fork), its own
``policy`` block, and any of:

- ``override``: ``parameters``, ``sets``, ``computed``, ``funds``, ``vocabularies``,
  ``settings`` and ``ledger`` by name, ``rules``, ``clauses``, ``exclusivity``, ``statuses`` and
  ``facts_checks`` by id; each
  replaces the parent's entry whole, and must exist in the parent;
- ``add``: the same sections, for entries that must not exist in the parent;
- ``retire``: lists of rule, exclusivity, parameter or clause ids to drop.

The result is one merged document whose every value keeps the location it
was read from (its own file, line and column), so problems, carets and
traces point into the right file, and every rule and parameter knows which
file it came from.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, List, Optional, Tuple

from ..problems import InvalidInput, Location, Problem, pointer_join
from ..limits import LIMITS
from ..source import Document, read_file

_BY_NAME = ("parameters", "sets", "funds", "vocabularies", "settings", "ledger")
_BY_ID = ("rules", "clauses", "exclusivity", "statuses", "facts_checks")
_RETIRABLE = ("rules", "exclusivity", "parameters", "clauses", "statuses", "facts_checks")
MAX_DEPTH = 8


def read_policy_document(path: str) -> Tuple[Document, Tuple[Tuple[str, str], ...]]:
    """The policy at ``path`` with its parents merged in, and the (path, sha256) of every file used."""
    return _read(path, [])


def _singular(section: str) -> str:
    return {"settings": "setting", "ledger": "ledger setting"}.get(section, section[:-1])


def _sha(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


def _read(path: str, chain: List[str]) -> Tuple[Document, Tuple[Tuple[str, str], ...]]:
    doc = read_file(path, LIMITS.max_policy_bytes)
    data = doc.data
    if not isinstance(data, dict) or "extends" not in data:
        return doc, ((doc.path, _sha(doc)),)
    loc = doc.locate("/extends")
    parent_ref = data["extends"]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise InvalidInput([Problem("policy.extends", "`extends` names the parent policy file, as a path", "/extends", loc)])
    parent_path = os.path.normpath(os.path.join(os.path.dirname(path), parent_ref))
    real = os.path.realpath(parent_path)
    if real in chain or real == os.path.realpath(path) or len(chain) >= MAX_DEPTH:
        raise InvalidInput([Problem("policy.extends", f"`extends: {parent_ref}` makes a cycle of policy files", "/extends", loc)])
    try:
        parent, files = _read(parent_path, chain + [os.path.realpath(path)])
    except InvalidInput as exc:
        if any(p.code == "file.unreadable" and p.location.file == parent_path for p in exc.problems):
            raise InvalidInput([Problem("policy.extends", f"cannot read the parent policy {parent_path}", "/extends", loc)])
        raise
    if not isinstance(parent.data, dict) or "policy" not in parent.data:
        raise InvalidInput([Problem("policy.extends", f"`extends: {parent_ref}` names {parent_path}, which is not a "
                                    "policy file (a mapping with a `policy:` block)", "/extends", loc)])
    if parent.positions is None:  # a parent written as JSON is located only when asked; a fork needs it now
        parent.locate("")
    merged = _merge(parent, doc)
    return merged, files + ((doc.path, _sha(doc)),)


class _Merge:
    def __init__(self, parent: Document, child: Document):
        self.parent, self.child = parent, child
        self.positions: Dict[str, Location] = {}
        self.problems: List[Problem] = []

    def copy(self, source: Document, src_pointer: str, dst_pointer: str) -> None:
        """Carry the locations of a subtree from its own file to its place in the merged document."""
        for pointer, loc in _positions(source).items():
            if pointer == src_pointer or pointer.startswith(src_pointer + "/"):
                self.positions[dst_pointer + pointer[len(src_pointer):]] = loc

    def error(self, code: str, message: str, pointer: str, hint: Optional[str] = None) -> None:
        self.problems.append(Problem(code, message, pointer, self.child.locate(pointer), hint=hint))


def _merge(parent: Document, child: Document) -> Document:
    m = _Merge(parent, child)
    p, c = parent.data, child.data
    allowed = {"format", "extends", "policy", "override", "add", "retire"}
    for key in c:
        if key not in allowed:
            m.error("policy.extends", f"a fork changes its parent only through override, add and retire; "
                                      f"`{key}` cannot stand at the top", f"/{key}",
                    hint="move it under `override:` or `add:`")
    out: Dict[str, Any] = {}
    m.copy(parent, "", "")
    for key, value in p.items():
        out[key] = value
    out["format"] = c.get("format", p.get("format"))
    if "format" in c:
        m.copy(child, "/format", "/format")
    if "policy" in c:
        out["policy"] = c["policy"]
        _drop(m.positions, "/policy")
        m.copy(child, "/policy", "/policy")
    else:
        m.error("policy.extends", "a fork needs its own `policy` block (id and title)", "")
    override = c.get("override") or {}
    add = c.get("add") or {}
    retire = c.get("retire") or {}
    for section, block in (("override", override), ("add", add), ("retire", retire)):
        if not isinstance(block, dict):
            m.error("policy.extends", f"`{section}` holds sections such as rules: or parameters:", f"/{section}")
    if m.problems:
        raise InvalidInput(m.problems)

    for mode, block in (("override", override), ("add", add)):
        for section, entries in block.items():
            where = f"/{mode}/{section}"
            if section in _BY_NAME:
                if not isinstance(entries, dict):
                    m.error("policy.extends", f"{section} are given by name", where)
                    continue
                named = dict(out.get(section) or {})
                for name, value in entries.items():
                    exists = name in named
                    if mode == "override" and not exists:
                        m.error("policy.override_unknown", f"`override` names {_singular(section)} "
                                f"{name!r}, which the parent does not have", pointer_join(where, name),
                                hint="use `add:` for something new")
                        continue
                    if mode == "add" and exists:
                        m.error("policy.add_exists", f"`add` names {name!r}, which the parent already has in {section}",
                                pointer_join(where, name), hint="use `override:` to replace it")
                        continue
                    named[name] = value
                    target = pointer_join(f"/{section}", name)
                    _drop(m.positions, target)
                    m.copy(child, pointer_join(where, name), target)
                out[section] = named
            elif section in _BY_ID:
                if not isinstance(entries, list):
                    m.error("policy.extends", f"{section} are given as a list of entries with `id`", where)
                    continue
                listed = list(out.get(section) or [])
                index = {e.get("id"): i for i, e in enumerate(listed) if isinstance(e, dict)}
                for j, entry in enumerate(entries):
                    rid = entry.get("id") if isinstance(entry, dict) else None
                    if rid is None:
                        m.error("policy.extends", "each entry needs its `id`", f"{where}/{j}")
                        continue
                    if mode == "override":
                        if rid not in index:
                            m.error("policy.override_unknown", f"`override` names {section} id {rid!r}, which the parent "
                                    f"does not have", f"{where}/{j}/id", hint="use `add:` for something new")
                            continue
                        target = f"/{section}/{index[rid]}"
                        listed[index[rid]] = entry
                        _drop(m.positions, target)
                        m.copy(child, f"{where}/{j}", target)
                    else:
                        if rid in index:
                            m.error("policy.add_exists", f"`add` names {section} id {rid!r}, which the parent already has",
                                    f"{where}/{j}/id", hint="use `override:` to replace it")
                            continue
                        index[rid] = len(listed)
                        m.copy(child, f"{where}/{j}", f"/{section}/{len(listed)}")
                        listed.append(entry)
                out[section] = listed
            elif section == "computed":
                computed = {k: dict(v) for k, v in (out.get("computed") or {}).items()}
                for kind, defs in (entries or {}).items():
                    for name, value in (defs or {}).items():
                        exists = name in computed.get(kind, {})
                        target = f"/computed/{kind}/{name}"
                        if mode == "override" and not exists:
                            m.error("policy.override_unknown", f"`override` names computed {kind}.{name}, which the parent does not have", f"{where}/{kind}/{name}", hint="use `add:` for something new")
                            continue
                        if mode == "add" and exists:
                            m.error("policy.add_exists", f"`add` names computed {kind}.{name}, which the parent already has",
                                    f"{where}/{kind}/{name}", hint="use `override:` to replace it")
                            continue
                        computed.setdefault(kind, {})[name] = value
                        _drop(m.positions, target)
                        m.copy(child, f"{where}/{kind}/{name}", target)
                out["computed"] = computed
            else:
                m.error("policy.extends", f"`{mode}` cannot change `{section}`", pointer_join(where, section))

    for section, ids in retire.items():
        where = f"/retire/{section}"
        if section not in _RETIRABLE or not isinstance(ids, list):
            m.error("policy.extends", f"`retire` takes lists of {', '.join(_RETIRABLE)} ids", where)
            continue
        for j, rid in enumerate(ids):
            if section == "parameters":
                if rid not in (out.get("parameters") or {}):
                    m.error("policy.retire_unknown", f"`retire` names parameter {rid!r}, which the parent does not have", f"{where}/{j}")
                    continue
                out["parameters"] = {k: v for k, v in out["parameters"].items() if k != rid}
                _drop(m.positions, pointer_join("/parameters", rid))
                continue
            items = out.get(section) or []
            found = [i for i, e in enumerate(items) if isinstance(e, dict) and e.get("id") == rid]
            if not found:
                m.error("policy.retire_unknown", f"`retire` names {section} id {rid!r}, which the parent does not have", f"{where}/{j}")
                continue
            out[section] = _remove(m.positions, section, items, found[0])
    if m.problems:
        raise InvalidInput(m.problems)
    sources = dict(parent.sources or {parent.path: parent.text})
    sources[child.path] = child.text
    return Document(child.path, child.text, out, m.positions, sources)


def _positions(doc: Document) -> Dict[str, Location]:
    """Where each value of ``doc`` stands (a document read without its positions is located now)."""
    if doc.positions is None:
        doc.locate("")
    assert doc.positions is not None  # locate() fills them in
    return doc.positions


def _drop(positions: Dict[str, Location], pointer: str) -> None:
    for key in [k for k in positions if k == pointer or k.startswith(pointer + "/")]:
        del positions[key]


def _remove(positions: Dict[str, Location], section: str, items: List[Any], index: int) -> List[Any]:
    """Remove item ``index`` of a list section and shift the locations of those after it."""
    prefix = f"/{section}/"
    moved: Dict[str, Location] = {}
    for key in list(positions):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        head, _, tail = rest.partition("/")
        if not head.isdigit():
            continue
        n = int(head)
        loc = positions.pop(key)
        if n == index:
            continue
        new = n - 1 if n > index else n
        moved[f"{prefix}{new}" + (f"/{tail}" if tail else "")] = loc
    positions.update(moved)
    return items[:index] + items[index + 1:]
