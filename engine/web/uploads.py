"""Uploads: the extensions taken, a file's own name made safe, a file stored in a folder of its own under the data
folder, and a draft policy's parent (only the served policy, copied beside it)."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from starlette.datastructures import UploadFile
from starlette.requests import Request

from ..problems import Location, Problem
from .access import Refused, word

if TYPE_CHECKING:
    from ..policy.model import Policy

FACTS_EXTENSIONS = (".yaml", ".yml", ".json", ".xlsx")
POLICY_EXTENSIONS = (".yaml", ".yml")

_SAFE = re.compile(r"[^\w.\- ]", re.UNICODE)


def safe_name(name: str, allowed: Sequence[str]) -> Optional[str]:
    """An uploaded file's own name, reduced to a plain file name with an allowed extension (never a path)."""
    base = _SAFE.sub("_", os.path.basename((name or "").replace("\\", "/"))).strip(" .")[-120:]
    ext = os.path.splitext(base)[1].lower()
    return base if base and ext in allowed else None


async def save_upload(request: Request, upload: object, allowed: Sequence[str], folder: Optional[str] = None
                      ) -> Tuple[str, str, int]:
    """Store an uploaded file under the data folder's uploads, in a folder of its own: (path, name, size)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Refused(400, word(request, "evaluate.upload"))
    name = safe_name(upload.filename, allowed)
    if name is None:
        raise Refused(400, f"{upload.filename}: {word(request, 'evaluate.formats')}",
                      [Problem("file.format", f"{', '.join(allowed)}", "", Location(upload.filename))])
    config = request.app.state.config
    folder = folder or os.path.join(config.uploads, secrets.token_hex(12))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, name)
    size = 0
    with open(path, "wb") as out:
        while True:
            chunk = await upload.read(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            out.write(chunk)
    return path, name, size


def draft_parent(path: str, served: Policy) -> Optional[Problem]:
    """A draft that ``extends`` a parent may name only the served policy, by its file name: a copy of it is put
    beside the draft (nothing outside the data folder is read on an upload's say-so)."""
    import yaml
    try:
        with open(path, encoding="utf-8-sig") as fh:
            head = yaml.safe_load(fh)
    except Exception:  # the loader reports what is wrong with the file itself, with its location
        return None
    if not isinstance(head, dict) or "extends" not in head:
        return None
    base = os.path.basename(served.path)
    if head["extends"] != base or len(served.sources) != 1:
        return Problem("policy.extends", f"`extends: {head['extends']}`: a draft may extend only {base}", "/extends",
                       Location(path))
    shutil.copyfile(served.path, os.path.join(os.path.dirname(path), base))
    return None
