"""What the web tests share: a real `subsidy serve` in a subprocess on a free port, with its users, ledger and
data folder in a temporary directory; the CLI's view of the same facts to compare with."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import httpx
from click.testing import CliRunner

from subsidy_rules.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "shanxi_2022.yaml")
EXAMPLE = str(ROOT / "examples" / "facts_2022.yaml")
COUNTY = ROOT / "examples" / "county"
PASSWORD = "correct horse battery"
# the bundled county month is a workshop of this county; the second clerk records for another
HOME_COUNTY = "临县"
OTHER_COUNTY = "岢岚县"


def cli(*args: str, input: Optional[str] = None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    folder: Path
    ledger: Optional[str]
    users: Optional[str]
    process: subprocess.Popen
    log: Path
    names: List[str] = field(default_factory=list)

    def client(self, user: Optional[str] = None, **kw) -> httpx.Client:
        auth = (user, PASSWORD) if user else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, **kw)

    def runs(self) -> list:
        """The ledger's runs, as the CLI lists them (JSON report of the CLI is per total; runs are read directly)."""
        from subsidy_rules.ledger import open_ledger
        led = open_ledger(self.ledger)
        try:
            return led.runs()
        finally:
            led.close()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_server(folder: Path, *, ledger: bool = True, users: bool = True, max_upload: int = 200_000,
                 carry_in: bool = True, policy: str = POLICY) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    args = [policy, "--port", str(free_port()), "--data", str(folder / "data"), "--max-upload", str(max_upload)]
    ledger_url = users_file = None
    if ledger:
        ledger_url = f"sqlite:///{folder / 'ledger.db'}"
        assert cli("ledger", "init", ledger_url).exit_code == 0
        if carry_in:  # the county's paper records before the ledger was kept, as the README's walk-through does
            done = cli("ledger", "carry-in", ledger_url, POLICY, str(COUNTY / "2022-07.yaml"), "--reason", "paper records")
            assert done.exit_code == 0, done.output
        args += ["--ledger", ledger_url]
    if users:
        users_file = str(folder / "users.json")
        for name, role, counties in (("lin", "clerk", [HOME_COUNTY]), ("kelan", "clerk", [OTHER_COUNTY]),
                                     ("lin2", "clerk", [HOME_COUNTY]), ("audit", "viewer", []), ("boss", "admin", [])):
            extra = [x for c in counties for x in ("--county", c)]
            done = cli("users", "add", users_file, name, "--role", role, *extra, "--password-stdin", input=PASSWORD + "\n")
            assert done.exit_code == 0, done.output
        args += ["--users", users_file]
    port = int(args[2])
    log = folder / "server.log"
    process = subprocess.Popen([sys.executable, "-c", "from subsidy_rules.cli import main; main()", "serve", *args],
                               stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=str(folder))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/login", timeout=2)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
    return Server(url, folder, ledger_url, users_file, process, log)


def cli_document(facts: str, ledger: Optional[str] = None) -> dict:
    """`subsidy evaluate POLICY FACTS --format json` (with --ledger: history from it, nothing recorded)."""
    args = ["evaluate", POLICY, facts, "--format", "json"] + (["--ledger", ledger] if ledger else [])
    done = cli(*args)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def cli_problems(*args: str) -> list:
    done = cli(*args)
    assert done.exit_code == 1, done.output
    return json.loads(done.stdout)["problems"]


def county_upload(folder: Path, month: str = "2022-07") -> Path:
    """The county month to upload as a clerk keeps it: the filled roster workbook, made from the YAML by
    `subsidy facts convert` (so the CLI and the browser read the same facts)."""
    target = folder / f"{month}.xlsx"
    done = cli("facts", "convert", str(COUNTY / f"{month}.yaml"), "-o", str(target), "--policy", str(POLICY))
    assert done.exit_code == 0, done.output
    return target


def amount(text: str) -> str:
    """An amount as a page shows it (thousands separators) as the JSON writes it."""
    return text.strip().replace(",", "")
