"""The library type-checks: mypy over ``subsidy_rules``, as the package installs, with setup.cfg's ``[mypy]``.

The package's folders are not named as it installs (setup.cfg's ``package_dir`` maps ``engine/`` to
``subsidy_rules`` and ``schemas/`` to ``subsidy_rules.schemas``), and mypy does not follow the import hook of an
editable install, so the test lays the package out under its real name (a tree of links to the files themselves)
and runs ``mypy -p subsidy_rules`` there with setup.cfg. Which modules are clean already (their errors reported) and
which are still to clean is setup.cfg's to say.
"""
from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "subsidy_rules"


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _package_dirs(cfg: configparser.ConfigParser) -> Dict[str, Path]:
    """Package name -> its folder, from setup.cfg's ``package_dir``."""
    out: Dict[str, Path] = {}
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


def test_the_library_type_checks(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cfg = _setup_cfg()
    assert "mypy" in cfg, "setup.cfg has no [mypy] section"
    tree = tmp_path / "tree"
    _lay_out(tree, _package_dirs(cfg))
    cache = request.config.cache.mkdir("mypy") if getattr(request.config, "cache", None) is not None else tmp_path / "mypy-cache"
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"), "--cache-dir",
                          str(cache), "--no-color-output", "--no-pretty", "-p", PACKAGE],
                         cwd=tree, capture_output=True, text=True, check=False)
    report = (run.stdout + run.stderr).strip()
    # an unused section is a module listed as clean that is no longer there (renamed or removed)
    assert run.returncode == 0 and "unused section" not in report, f"mypy (setup.cfg's [mypy]):\n{report}"
