"""The library type-checks: mypy over ``subsidy_rules``, as the package installs, with setup.cfg's ``[mypy]``.

The package's folders are not named as it installs (setup.cfg's ``package_dir`` maps ``engine/`` to
``subsidy_rules`` and ``schemas/`` to ``subsidy_rules.schemas``), and mypy does not follow the import hook of an
editable install, so the test lays the package out under its real name (a tree of links to the files themselves)
and runs ``mypy -p subsidy_rules`` there. Modules still to clean are listed in setup.cfg with ``ignore_errors``;
mypy is run once without that list, so the test can say both which error is new in a module already clean and which
listed module is clean now and should leave the list.
"""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "subsidy_rules"
_ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: ")


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _package_dirs(cfg: configparser.ConfigParser) -> Dict[str, Path]:
    """Package name -> its folder, from setup.cfg's ``package_dir``."""
    out = {}
    for line in cfg["options"]["package_dir"].strip().splitlines():
        name, _, folder = line.partition("=")
        out[name.strip()] = ROOT / folder.strip()
    return out


def _lay_out(tree: Path, dirs: Dict[str, Path]) -> None:
    """Each package under its own name in ``tree``: a folder holding a link to every entry of the folder it is
    installed from (outer packages first, so ``subsidy_rules/schemas`` goes inside ``subsidy_rules``)."""
    for name, folder in sorted(dirs.items(), key=lambda kv: kv[0].count(".")):
        where = tree.joinpath(*name.split("."))
        where.mkdir(parents=True, exist_ok=True)
        for entry in sorted(folder.iterdir()):
            if entry.name != "__pycache__" and not (where / entry.name).exists():
                (where / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


def _ignored(cfg: configparser.ConfigParser) -> List[str]:
    """The modules setup.cfg lists as still to clean (a section of their own with ``ignore_errors``)."""
    return [name[len("mypy-"):] for name in cfg.sections()
            if name.startswith("mypy-") and cfg[name].getboolean("ignore_errors", fallback=False)]


def _without_ignored(cfg: configparser.ConfigParser, path: Path) -> None:
    """The project's mypy settings without the to-clean list, written to ``path``."""
    out = configparser.ConfigParser(interpolation=None)
    for name in cfg.sections():
        if name == "mypy" or name.startswith("mypy-"):
            options = {k: v for k, v in cfg[name].items() if k != "ignore_errors"}
            if options or name == "mypy":
                out[name] = options
    with open(path, "w", encoding="utf-8") as fh:
        out.write(fh)


def _module(path: str) -> str:
    name = path[:-len(".py")].replace("/", ".").replace(os.sep, ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def _listed(module: str, patterns: List[str]) -> bool:
    return any(module == p or (p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1])))
               for p in patterns)


def test_the_library_type_checks(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cfg = _setup_cfg()
    assert "mypy" in cfg, "setup.cfg has no [mypy] section"
    tree = tmp_path / "tree"
    _lay_out(tree, _package_dirs(cfg))
    config = tmp_path / "mypy.ini"
    _without_ignored(cfg, config)
    cache = request.config.cache.mkdir("mypy") if request.config.cache is not None else tmp_path / "mypy-cache"
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache),
                          "--no-color-output", "--no-pretty", "-p", PACKAGE],
                         cwd=tree, capture_output=True, text=True, check=False)
    report = run.stdout + run.stderr
    errors = [(m, line) for m, line in ((_ERROR.match(line), line) for line in report.splitlines()) if m is not None]
    if run.returncode not in (0, 1) or (run.returncode == 1) != bool(errors):
        pytest.fail(f"mypy did not run as expected (exit {run.returncode}):\n{report}")
    ignored = _ignored(cfg)
    erring: Set[str] = set()
    new: List[str] = []
    for match, line in errors:
        module = _module(match.group("path"))
        erring.add(module)
        if not _listed(module, ignored):
            new.append(line)
    if new:
        pytest.fail(f"mypy (setup.cfg's [mypy]) finds {len(new)} error{'s' * (len(new) != 1)} in modules already "
                    "clean:\n" + "\n".join(new))
    clean = [p for p in ignored if p.startswith(PACKAGE) and not any(_listed(m, [p]) for m in erring)]
    assert not clean, (f"mypy finds no error left in {', '.join(clean)}: remove {'its' if len(clean) == 1 else 'their'} "
                       "ignore_errors section from setup.cfg (the list of modules still to clean)")
