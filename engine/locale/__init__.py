"""Messages for people in the policy's language: a catalog per language, kept as data (``<lang>.yaml``).

The engine writes its problems in English, each with a stable code. When a policy says ``report.lang`` is a
language this package has a catalog for, :func:`localize` rewrites each message and hint it knows (matched by
code and by the English sentence) into that language; the code, pointer and location stay as they are, and a
sentence the catalog does not know stays in English rather than being guessed. :func:`say` gives a sentence of
the catalog by key, filled with its values. Only generic words live here; a policy's own words come from its
``labels``.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Iterable, List, Optional, Pattern, Tuple, overload

import yaml

from ..problems import Problem

if TYPE_CHECKING:
    from ..policy.model import Policy


#: The languages a catalog is kept for (``<lang>.yaml``); English is every other language's fallback.
LANGUAGES = ("en", "zh")


def language_of(tag: Optional[str]) -> str:
    """The catalog for a language tag (``zh-CN``, ``zh_CN.UTF-8``, ``en``): its language if a catalog is kept for it,
    else ``en``."""
    base = re.split(r"[-_.@]", (tag or "en").strip())[0].lower()
    return base if base in LANGUAGES else "en"


_DECLARED = re.compile(r"^[ \t]+report\.lang:[ \t]*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.M)


def declared_language(path: str) -> Optional[str]:
    """The language a policy file declares (its ``report.lang`` label), read from its text as it stands: for a file
    that does not load whole (a YAML slip, a schema error), whose problems are then said in its own language. None if
    it declares none, or cannot be read."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            match = _DECLARED.search(fh.read(1 << 22))
    except (OSError, UnicodeDecodeError):
        return None
    return language_of(match.group(1)) if match else None


def language(policy: "Policy") -> str:
    """The catalog a policy's people read: ``zh`` for ``report.lang: zh-CN``, else ``en``."""
    return language_of((getattr(policy, "labels", None) or {}).get("report.lang", "en"))


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict:
    text = resources.files(__name__).joinpath(f"{lang}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def say(key: str, lang: str = "en", /, **values: object) -> str:
    """The sentence ``key`` of the catalog of ``lang`` (English if that catalog lacks it), filled with ``values``."""
    template = catalog(lang).get("messages", {}).get(key)
    if template is None:
        template = catalog("en")["messages"][key]
    return template.format(**values)


def count(key: str, n: int, lang: str = "en") -> str:
    """``n`` things in words: the sentence ``key.one`` for one, ``key.many`` (with ``{n}``) for any other number."""
    return say(f"{key}.one" if n == 1 else f"{key}.many", lang, n=n)


@lru_cache(maxsize=None)
def _patterns(lang: str) -> Tuple[Tuple[Optional[str], Pattern[str], str], ...]:
    out = []
    for entry in catalog(lang).get("patterns", ()):
        out.append((entry.get("code"), re.compile(entry["en"], re.S), entry["text"]))
    return tuple(out)


@overload
def translate(text: str, lang: str, code: Optional[str] = None) -> str: ...
@overload
def translate(text: None, lang: str, code: Optional[str] = None) -> None: ...
@overload
def translate(text: Optional[str], lang: str, code: Optional[str] = None) -> Optional[str]: ...
def translate(text: Optional[str], lang: str, code: Optional[str] = None) -> Optional[str]:
    """``text`` in ``lang`` if the catalog knows the sentence (by its English form), else as it is: its record prefix
    (``workshop WS-1, loan L-1: …``) is said in ``lang`` too when the rest already is (a policy's own words), never in
    front of English the catalog does not know (no half translations)."""
    if not text or lang == "en":
        return text
    prefix, body = _record_prefix(text, lang)
    for pcode, pattern, template in _patterns(lang):
        if pcode and code and not re.fullmatch(pcode, code):
            continue
        match = pattern.fullmatch(body)
        if match:
            return prefix + template.format(**{k: _group(k, v, lang) for k, v in match.groupdict().items()})
    return prefix + body if prefix and not _ENGLISH.search(body) else text


def _group(name: str, value: Optional[str], lang: str) -> str:
    """What a pattern's group matched, as its template shows it: a group named ``type…`` is a type of the expression
    language (``number``, ``list of string``, ``worker record``), said in ``lang``'s words (its catalog's ``types``);
    ``word…`` a word of the catalog's ``words`` (``amount``, ``condition``); ``record…`` a kind of record (its
    ``records``); any other as it is."""
    if value is None:
        return ""
    if name.startswith("type"):
        return _type_words(value, lang)
    if name.startswith("word"):
        return str(catalog(lang).get("words", {}).get(value, value))
    if name.startswith("record"):
        return str(catalog(lang).get("records", {}).get(value, value))
    return value


def _type_words(text: str, lang: str) -> str:
    types = catalog(lang).get("types", {})
    if text.startswith("list of "):
        return str(types.get("list", "list of {0}")).format(_type_words(text[len("list of "):], lang))
    if text.endswith(" record"):
        kind = text[:-len(" record")]
        return str(types.get("record", "{0} record")).format(catalog(lang).get("records", {}).get(kind, kind))
    return str(types.get(text, text))


_ENGLISH = re.compile(r"[A-Za-z]{3,}")  # a word of English prose (codes and ids aside, a sentence in words has one)


_PREFIX = re.compile(r"^((?:(?:workshop|worker|month|loan) [^,:]+(?:, )?)+): ")


def _record_prefix(text: str, lang: str) -> Tuple[str, str]:
    """'workshop WS-1, worker W3: …' -> the records in ``lang`` and the rest of the sentence."""
    match = _PREFIX.match(text)
    if not match:
        return "", text
    words = catalog(lang).get("records", {})
    sep = catalog(lang).get("separators", {})
    parts = []
    for part in match.group(1).split(", "):
        kind, _, rid = part.partition(" ")
        parts.append(f"{words.get(kind, kind)} {rid}")
    return sep.get("list", ", ").join(parts) + sep.get("colon", ": "), text[match.end():]


def localize(problems: Iterable[Problem], lang: str) -> List[Problem]:
    """Each problem's message and hint in ``lang`` where the catalog knows them; code, pointer and place kept."""
    if lang == "en":
        return list(problems)
    return [Problem(p.code, translate(p.message, lang, p.code), p.pointer, p.location, p.severity,
                    translate(p.hint, lang, p.code)) for p in problems]
