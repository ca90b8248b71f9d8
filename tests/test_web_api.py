"""The HTTP API of `subsidy serve`, driven with an HTTP client (httpx) against a running server: the same
documents, problems (codes, pointers, lines and columns) and statuses as the CLI."""
from __future__ import annotations

import json
import threading

import pytest

from web_support import (EXAMPLE, POLICY, COUNTY, PASSWORD, cli, cli_document, cli_problems, start_server)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """No users, no ledger: read-only, open to whoever reaches it (it listens on 127.0.0.1)."""
    server = start_server(tmp_path_factory.mktemp("web-open"), ledger=False, users=False, max_upload=8_000_000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("web-office"))
    yield server
    server.stop()


def as_json_text(path: str) -> str:
    """A YAML facts file as JSON, read by the project's own reader (YAML 1.1 would read `on:` as true)."""
    from decimal import Decimal
    from subsidy_rules.source import read_file

    def number(value):
        if isinstance(value, Decimal):
            return json.loads(str(value))
        raise TypeError(value)
    return json.dumps(read_file(path).data, ensure_ascii=False, default=number)


def _same_decisions(api: dict, cli_doc: dict):
    assert api["totals"] == cli_doc["totals"]
    assert [d["id"] for d in api["decisions"]] == [d["id"] for d in cli_doc["decisions"]]
    assert api["decisions"] == cli_doc["decisions"]


def test_evaluate_json_and_yaml_bodies_give_the_clis_document(open_server, tmp_path):
    as_json = tmp_path / "facts.json"
    as_json.write_text(as_json_text(EXAMPLE), encoding="utf-8")
    expected = cli_document(str(as_json))
    with open_server.client() as http:
        by_json = http.post("/api/v1/evaluate", content=as_json.read_bytes(), headers={"content-type": "application/json"})
        by_yaml = http.post("/api/v1/evaluate?name=facts_2022.yaml", content=open(EXAMPLE, "rb").read())
        by_form = http.post("/api/v1/evaluate", files={"facts": ("facts.json", as_json.read_bytes())})
    assert by_json.status_code == by_yaml.status_code == by_form.status_code == 200, by_json.text
    _same_decisions(by_json.json(), expected)
    _same_decisions(by_form.json(), expected)
    assert by_yaml.json()["totals"] == cli_document(EXAMPLE)["totals"]
    assert by_json.json()["facts_sha256"] == expected["facts_sha256"]
    assert by_json.json()["run"]["facts"] == "input.json"


def test_a_facts_error_is_the_clis_problem_with_a_422(open_server, tmp_path):
    broken = tmp_path / "broken.yaml"
    text = open(EXAMPLE, encoding="utf-8").read().replace("contract_months: 12", "contract_months: twelve", 1)
    assert text != open(EXAMPLE, encoding="utf-8").read()
    broken.write_text(text, encoding="utf-8")
    done = cli("evaluate", POLICY, str(broken))
    assert done.exit_code == 1
    expected = [line.replace(str(broken), "broken.yaml") for line in done.stderr.splitlines() if "error[" in line]
    with open_server.client() as http:
        answer = http.post("/api/v1/evaluate?name=broken.yaml", content=broken.read_bytes())
    assert answer.status_code == 422
    got = answer.json()["problems"]
    assert [_as_cli_line(p) for p in got] == expected and expected


def _as_cli_line(p: dict) -> str:
    """A problem of the API as the CLI prints it (Problem.__str__)."""
    text = f"{p['file']}:{p['line']}:{p['col']}: {p['severity']}[{p['code']}] {p['message']}"
    return text + (f" (at {p['pointer']})" if p["pointer"] else "") + (f"; {p['hint']}" if p.get("hint") else "")


def test_malformed_json_and_requests_without_a_format(open_server):
    with open_server.client() as http:
        bad = http.post("/api/v1/evaluate", content=b'{"period": {"start": "2022-07-01",}', headers={"content-type": "application/json"})
        unnamed = http.post("/api/v1/evaluate", content=b"period: {}")
        empty = http.post("/api/v1/evaluate", content=b"", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["code"].startswith("json.")
    assert bad.json()["problems"][0]["line"] == 1
    assert unnamed.status_code == 400 and unnamed.json()["problems"][0]["code"] == "request.format"
    assert empty.status_code == 400 and empty.json()["problems"][0]["code"] == "request.empty"


def test_an_oversized_body_is_refused_with_413(office):
    with office.client("audit") as http, office.client() as anonymous:
        answer = http.post("/api/v1/evaluate?name=big.yaml", content=b"#" * 300_000)
        before_auth = anonymous.post("/api/v1/evaluate?name=big.yaml", content=b"#" * 300_000)
    assert before_auth.status_code == 413
    assert answer.status_code == 413
    assert answer.json()["problems"][0]["code"] == "input.too_large"


def test_explain_gives_the_clis_trace(open_server, tmp_path):
    facts = tmp_path / "facts_2022.yaml"
    facts.write_bytes(open(EXAMPLE, "rb").read())
    done = cli("explain", POLICY, str(facts), "--workshop", "WS-001", "--worker", "W-0001", "--width", "0")
    assert done.exit_code == 0
    with open_server.client() as http:
        answer = http.post("/api/v1/explain?workshop=WS-001&worker=W-0001&name=facts_2022.yaml", content=facts.read_bytes())
        missing = http.post("/api/v1/explain?workshop=WS-404&name=facts_2022.yaml", content=facts.read_bytes())
    assert answer.status_code == 200
    assert answer.json()["text"] == done.stdout.replace(str(facts), "facts_2022.yaml")
    assert {d["worker"] for d in answer.json()["decisions"]} == {"W-0001"}
    assert missing.status_code == 422 and missing.json()["problems"][0]["code"] == "request.no_workshop"


def test_validate_reports_what_subsidy_validate_reports(open_server, tmp_path):
    draft = tmp_path / "draft.yaml"
    text = open(POLICY, encoding="utf-8").read()
    assert "worker.contract_months >=" in text
    draft.write_text(text.replace("worker.contract_months >=", "worker.contract_month >=", 1), encoding="utf-8")
    expected = cli_problems("validate", str(draft), "--format", "json")
    with open_server.client() as http:
        bad = http.post("/api/v1/validate?name=draft.yaml", content=draft.read_bytes())
        good = http.post("/api/v1/validate?name=policy.yaml", content=open(POLICY, "rb").read())
        escape = http.post("/api/v1/validate?name=fork.yaml", content=b"extends: ../../../../etc/passwd\n")
    assert bad.status_code == 422
    assert [(p["code"], p["line"], p["col"]) for p in bad.json()["problems"]] == \
        [(p["code"], p["line"], p["col"]) for p in expected]
    assert "expr.unknown_name" in {p["code"] for p in expected}
    assert good.status_code == 200 and good.json()["policy"] == "shanxi_2022"
    assert escape.status_code == 422 and escape.json()["problems"][0]["code"] == "policy.extends"


def test_policy_and_the_openapi_document(open_server):
    with open_server.client() as http:
        policy = http.get("/api/v1/policy").json()
        schema = http.get("/api/v1/openapi.json").json()
    assert policy["id"] == "shanxi_2022" and "3.2" in {c["id"] for c in policy["clauses"]}
    hiring = next(p for p in policy["parameters"] if p["name"] == "one_time_hiring_subsidy")
    assert [v["value"] for v in hiring["values"]] == ["1200", "1500"]
    assert set(schema["paths"]) == {"/api/v1/evaluate", "/api/v1/explain", "/api/v1/validate", "/api/v1/policy"}
    assert "422" in json.dumps(schema["paths"]["/api/v1/evaluate"])


def test_the_api_needs_credentials_on_a_server_with_users(office):
    with office.client() as anonymous, office.client("audit") as viewer:
        refused = anonymous.get("/api/v1/policy")
        wrong = anonymous.get("/api/v1/policy", auth=("audit", "not the password"))
        allowed = viewer.get("/api/v1/policy")
    assert refused.status_code == 401 and refused.json()["problems"][0]["code"] == "auth.required"
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert allowed.status_code == 200


def test_the_api_takes_history_from_the_ledger_as_the_cli_does(office):
    source = COUNTY / "2022-07.yaml"
    expected = cli_document(str(source), office.ledger)
    with office.client("audit") as http:
        answer = http.post("/api/v1/evaluate?name=2022-07.yaml", content=source.read_bytes())
    assert answer.status_code == 200, answer.text
    _same_decisions(answer.json(), expected)


def test_session_cookie_is_signed_http_only_and_same_site(office):
    import re
    with office.client() as http:
        page = http.get("/login")
        cookie = page.headers["set-cookie"]
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        failed = http.post("/login", data={"csrf": token, "user": "lin", "password": "wrong"})
        forged = http.post("/login", data={"csrf": "forged", "user": "lin", "password": PASSWORD})
        ok = http.post("/login", data={"csrf": token, "user": "lin", "password": PASSWORD})
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert failed.status_code == 401
    assert forged.status_code == 403
    assert ok.status_code == 303


def _login(http, user):
    import re
    token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text).group(1)
    assert http.post("/login", data={"csrf": token, "user": user, "password": PASSWORD}).status_code == 303
    return re.search(r'name="csrf" value="([^"]+)"', http.get("/evaluate").text).group(1)


def _evaluate(http, token, name: str, content: bytes) -> str:
    import time
    answer = http.post("/evaluate", data={"csrf": token}, files={"facts": (name, content)})
    assert answer.status_code == 303, answer.text
    job = answer.headers["location"]
    for _ in range(600):
        page = http.get(job)
        if 'data-state="done"' in page.text:
            return job
        assert 'data-state="failed"' not in page.text, page.text
        time.sleep(0.1)
    raise AssertionError("the evaluation did not finish")


def test_recording_the_same_months_two_at_once_one_wins_the_other_is_told_why_and_replaces_it_only_by_superseding(
        tmp_path):
    """Two clerks record the county's July at the same moment from two evaluations: the ledger's lock decides, one
    is recorded and the other is told why (as two `evaluate --record` processes are); the loser's evaluation is
    then recorded only by superseding the winner's, with a reason."""
    import re
    server = start_server(tmp_path / "race")
    try:
        july = (COUNTY / "2022-07.yaml").read_text(encoding="utf-8")
        other = july.replace("income: 2600", "income: 2700", 1)
        assert other != july
        clients = [server.client(), server.client()]
        tokens = [_login(clients[0], "lin"), _login(clients[1], "lin2")]
        jobs = [_evaluate(clients[0], tokens[0], "2022-07.yaml", july.encode()),
                _evaluate(clients[1], tokens[1], "2022-07-b.yaml", other.encode())]
        answers = [None, None]
        start = threading.Barrier(2)

        def record(i):
            start.wait()
            answers[i] = clients[i].post(jobs[i] + "/record", data={"csrf": tokens[i]})

        threads = [threading.Thread(target=record, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        won = next(i for i in range(2) if answers[i].status_code == 200)
        lost = 1 - won
        assert 'data-code="ledger.overlap"' in answers[lost].text, answers[lost].text
        assert [r["kind"] for r in server.runs()] == ["carry_in", "evaluation"]

        http, token, job = clients[won], tokens[won], jobs[won]
        again = http.get(job + "/record").text  # the same run: recorded already, nothing to confirm
        assert 'id="already"' in again and 'id="confirm"' not in again
        http, token, job = clients[lost], tokens[lost], jobs[lost]
        confirm = http.get(job + "/record").text
        assert 'id="supersedes"' in confirm and re.search(r"<td>WS-L01</td><td>2022-07</td><td>2 ", confirm)
        no_reason = http.post(job + "/record", data={"csrf": token, "supersede": "yes", "reason": " "})
        assert no_reason.status_code == 400
        assert [r["kind"] for r in server.runs()] == ["carry_in", "evaluation"]
        done = http.post(job + "/record", data={"csrf": token, "supersede": "yes", "reason": "income corrected"})
        assert done.status_code == 200 and 'data-seq="3"' in done.text
        runs = server.runs()
        assert [r["kind"] for r in runs] == ["carry_in", "evaluation", "evaluation"]
        assert runs[2]["reason"] == "income corrected" and runs[2]["supersedes"]
        for c in clients:
            c.close()
    finally:
        server.stop()


def test_without_users_the_server_reads_and_evaluates_but_records_nothing(tmp_path):
    server = start_server(tmp_path / "read-only", users=False)
    try:
        with server.client() as http:
            page = http.get("/evaluate")
            assert page.status_code == 200 and 'id="read-only"' in page.text
            token = __import__("re").search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            job = _evaluate(http, token, "2022-07.yaml", (COUNTY / "2022-07.yaml").read_bytes())
            assert 'id="record"' not in http.get(job).text
            confirm = http.get(job + "/record")
            refused = http.post(job + "/record", data={"csrf": token})
        assert confirm.status_code == refused.status_code == 403
        assert [r["kind"] for r in server.runs()] == ["carry_in"]
    finally:
        server.stop()


def test_a_long_evaluation_runs_off_the_event_loop_and_shows_its_progress(open_server, tmp_path):
    """While a county of 100 workshops is being decided, its page says how far it is, and other pages answer."""
    import re
    import subprocess
    import sys
    from web_support import ROOT
    big = tmp_path / "county.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--workshops", "100", "--workers", "1500",
                    "-o", str(big)], check=True)
    with open_server.client() as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/evaluate").text).group(1)
        answer = http.post("/evaluate", data={"csrf": token}, files={"facts": ("county.json", big.read_bytes())})
        assert answer.status_code == 303
        job = answer.headers["location"]
        busy = http.get(job).text
        policy = http.get("/policy")
        still = http.get(job).text
        assert policy.status_code == 200  # answered while the evaluation runs in a worker thread
        states = [re.search(r'data-state="(\w+)"', page).group(1) for page in (busy, still)]
        assert states[1] in ("queued", "reading", "deciding"), states
        assert "<progress>" in busy and 'http-equiv="refresh"' in busy
        done = _evaluate_wait(http, job)
    expected = cli_document(str(big))
    assert re.search(r'id="total">([^<]+)<', done).group(1).replace(",", "") == expected["totals"]["granted"]


def _evaluate_wait(http, job):
    import time
    for _ in range(1200):
        page = http.get(job).text
        if 'data-state="done"' in page:
            return page
        assert 'data-state="failed"' not in page, page
        time.sleep(0.1)
    raise AssertionError("the evaluation did not finish")


def test_users_add_keeps_only_an_argon2_hash_readable_by_its_owner(tmp_path):
    import os
    import stat
    path = tmp_path / "users.json"
    done = cli("users", "add", str(path), "clerk1", "--role", "clerk", "--county", "A", "--password-stdin",
               input="a long enough password\n")
    assert done.exit_code == 0, done.output
    stored = json.loads(path.read_text(encoding="utf-8"))["users"]["clerk1"]
    assert stored["hash"].startswith("$argon2id$") and "a long enough password" not in path.read_text()
    assert stored["role"] == "clerk" and stored["counties"] == ["A"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cli("users", "add", str(path), "c2", "--role", "clerk", "--password-stdin", input="x" * 9 + "\n").exit_code == 2
    assert cli("users", "add", str(path), "v", "--role", "viewer", "--password-stdin", input="short\n").exit_code == 2
    assert cli("users", "add", str(path), "v", "--role", "owner", "--password-stdin", input="x" * 9 + "\n").exit_code == 2


def test_names_in_the_facts_are_escaped_on_every_page(open_server, tmp_path):
    import re
    text = (COUNTY / "2022-07.yaml").read_text(encoding="utf-8")
    hostile = '<script>alert(1)</script>'
    marked = re.sub(r"(\n    name: )[^\n]*", lambda m: m.group(1) + "'" + hostile + "'", text, count=1)
    assert hostile in marked
    with open_server.client() as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/evaluate").text).group(1)
        answer = http.post("/evaluate", data={"csrf": token}, files={"facts": ("<b>x</b>.yaml", marked.encode())})
        page = _evaluate_wait(http, answer.headers["location"])
        listing = http.get("/evaluate").text
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in listing


def test_pages_may_not_be_framed_and_a_loopback_server_answers_only_to_its_names(office):
    with office.client() as http:
        page = http.get("/login")
        rebound = http.get("/login", headers={"host": "attacker.example"})
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert rebound.status_code == 400


def test_an_evaluation_downloads_as_the_clis_document_workbook_and_report(open_server, tmp_path):
    import io
    import re
    from openpyxl import load_workbook
    expected = cli_document(EXAMPLE)
    with open_server.client() as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/evaluate").text).group(1)
        answer = http.post("/evaluate", data={"csrf": token}, files={"facts": ("facts_2022.yaml", open(EXAMPLE, "rb").read())})
        job = answer.headers["location"]
        _evaluate_wait(http, job)
        document = http.get(job + "/download/decisions.json")
        workbook = http.get(job + "/download/payouts.xlsx")
        report = http.get(job + "/download/report.html")
    assert document.status_code == workbook.status_code == report.status_code == 200
    assert "attachment" in document.headers["content-disposition"]
    got = document.json()
    assert got["totals"] == expected["totals"] and [d["id"] for d in got["decisions"]] == [d["id"] for d in expected["decisions"]]
    assert got["run"]["facts"] == "facts_2022.yaml" and str(open_server.folder) not in document.text
    sheets = load_workbook(io.BytesIO(workbook.content)).sheetnames
    assert sheets and report.text.startswith("<!") and "WS-001" in report.text


def test_a_fork_is_served_in_its_own_words_and_shows_what_it_changes(tmp_path):
    from web_support import ROOT
    fork = str(ROOT / "policies" / "examples" / "neighbour_province.yaml")
    server = start_server(tmp_path / "fork", ledger=False, users=False, policy=fork)
    try:
        with server.client() as http:
            page = http.get("/policy").text
            api = http.get("/api/v1/policy").json()
    finally:
        server.stop()
    assert api["id"] == "neighbour_example"
    changes = page[page.index('id="fork"'):page.index('class="toc"')]
    assert "one_time_hiring_subsidy" in changes and "base_award" in changes
    import subsidy_rules
    words = subsidy_rules.load_policy(fork).label
    assert words("web.nav.ledger") in page and words("web.policy.fork") in changes
