"""`subsidy serve` in a real browser: Debian's chromium driven by Playwright (no browser is downloaded; .ci/run
installs the chromium package), against a server started on a free port with a ledger and users.

A clerk of the county logs in, uploads the county's month (the filled roster workbook when this version reads
workbooks, else the YAML facts), sees the CLI's totals, opens a worker's reasons, records the month after the
confirmation page and sees the ledger's report change. A viewer, a form without its CSRF token, a clerk of
another county, an oversized and a malformed upload are each refused with their reason, and nothing is recorded.

With SUBSIDY_WEB_SCREENSHOTS=DIR, the journey also saves a screenshot of each page there (the README's come from
`SUBSIDY_WEB_SCREENSHOTS=docs pytest tests/test_web_browser.py`).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from web_support import (COUNTY, HOME_COUNTY, OTHER_COUNTY, PASSWORD, POLICY, amount, cli, cli_document,
                         county_upload, start_server)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def words():
    import subsidy_rules
    policy = subsidy_rules.load_policy(POLICY)
    return lambda key: policy.label(f"web.{key}")


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), "install Debian's chromium (apt-get install -y chromium; .ci/run does)"
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("web-browser"))
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


def login(page, server, user: str, password: str = PASSWORD):
    page.goto(server.url + "/policy")
    assert "/login" in page.url  # a server with users shows nothing before login
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("form.card button[type=submit]")
    page.wait_for_url(server.url + "/policy")
    assert page.inner_text("#who") == user


def upload(page, server, path) -> str:
    """Upload a facts file on the evaluate page; wait until it is decided (or has problems); the page's URL."""
    page.goto(server.url + "/evaluate")
    page.set_input_files("#upload input[type=file]", str(path))
    page.click("#upload button[type=submit]")
    page.locator('#state[data-state="done"], #state[data-state="failed"]').wait_for()
    return page.url


def shoot(page, name: str):
    folder = os.environ.get("SUBSIDY_WEB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"web_{name}.png"), full_page=False)


def ledger_report(server) -> dict:
    done = cli("ledger", "report", server.ledger, "--policy", POLICY, "--format", "json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_a_clerk_takes_the_county_month_from_upload_to_a_recorded_verified_month(page, office, words, tmp_path):
    login(page, office, "lin")
    assert page.inner_text("nav a[aria-current]") == words("nav.policy")
    assert words("policy.unconfirmed") in page.inner_text("main")  # parameters' values with their marks
    page.goto(office.url + "/policy#clause-3.4")
    shoot(page, "policy")

    page.click(f"text={words('nav.ledger')}")
    before = amount(page.inner_text("#ledger-total"))
    assert before == ledger_report(office)["granted"]
    runs_before = len(office.runs())

    facts = county_upload(tmp_path)
    expected = cli_document(str(facts), office.ledger)  # the CLI on the same facts, history from the same ledger
    upload(page, office, facts)
    assert page.get_attribute("#state", "data-state") == "done"
    total = amount(page.inner_text("#total"))
    assert total == expected["totals"]["granted"] and total != "0.00"
    for fund, value in expected["totals"]["by_funding_source"].items():
        assert amount(page.inner_text(f'#by-fund td[data-fund="{fund}"]')) == value
    shoot(page, "evaluation")
    evaluation = page.url

    # a worker's reasons in one click from the evaluation: the decision and its trace
    granted = [d for d in expected["decisions"] if d["worker"] and d["outcome"] == "granted"][0]
    page.click(f'a.reasons[href$="id={granted["id"]}"]')
    reasons = page.inner_text("#explain")
    assert granted["id"] in reasons and granted["worker"] in reasons  # the decision, by its id, with its trace
    shoot(page, "reasons")
    page.goto(evaluation)
    page.click(f'a[href*="worker={granted["worker"]}"] >> nth=0')
    why = page.inner_text("#why-not")
    assert words("reasons") in page.inner_text("main") and granted["worker"] in page.inner_text("h1")
    assert why.count("\n") >= 1

    # record after the confirmation page
    page.goto(evaluation)
    page.click("#record")
    assert amount(page.inner_text("#new")).endswith(total) or total in amount(page.inner_text("#new"))
    shoot(page, "confirm")
    page.click("#confirm button[type=submit]")
    recorded = page.locator("#recorded")
    assert int(recorded.get_attribute("data-seq")) == runs_before + 1

    page.click(f"text={words('nav.ledger')}")
    after = amount(page.inner_text("#ledger-total"))
    report = ledger_report(office)
    assert after == report["granted"] and after != before
    assert page.is_visible("#intact") and f"{words('ledger.run')} {runs_before + 1} ·" in page.inner_text("#head")
    assert len(office.runs()) == runs_before + 1
    shoot(page, "ledger")

    # an auditor's two clicks from the ledger to a payout's reasons: the recorded run's evaluation, the decision
    page.click("#runs-table a.evaluation >> nth=-1")
    assert page.url == evaluation
    page.click(f'a.reasons[href$="id={granted["id"]}"]')
    assert page.inner_text("#explain") == reasons


def test_a_viewer_is_refused_recording(page, office, words, browser):
    clerk = browser.new_context().new_page()
    login(clerk, office, "lin")
    evaluation = upload(clerk, office, COUNTY / "2022-07.yaml")
    clerk.context.close()
    runs = len(office.runs())
    login(page, office, "audit")
    page.goto(evaluation)
    assert amount(page.inner_text("#total")) != "0.00"  # a viewer reads the evaluation
    assert page.locator("#record").count() == 0
    response = page.goto(evaluation + "/record")
    assert response.status == 403 and words("refused.role") in page.inner_text("#message")
    token = page.get_attribute("form.inline input[name=csrf]", "value")  # the viewer's own, valid token
    posted = page.request.post(evaluation + "/record", form={"csrf": token})
    assert posted.status == 403 and words("refused.role") in posted.text()
    page.goto(office.url + "/evaluate")
    assert page.locator("#upload").count() == 0
    assert len(office.runs()) == runs


def test_a_form_without_its_csrf_token_is_refused(page, office, words):
    login(page, office, "lin")
    upload(page, office, COUNTY / "2022-08.yaml")
    runs = len(office.runs())
    page.click("#record")
    page.evaluate("document.querySelector('#confirm input[name=csrf]').remove()")
    with page.expect_navigation():
        page.click("#confirm button[type=submit]")
    assert words("refused.csrf") in page.inner_text("#message")
    assert len(office.runs()) == runs


def test_a_clerk_of_another_county_is_refused(page, office, words):
    login(page, office, "kelan")
    evaluation = upload(page, office, COUNTY / "2022-07.yaml")
    runs = len(office.runs())
    response = page.goto(evaluation + "/record")
    assert response.status == 403
    message = page.inner_text("#message")
    assert words("refused.county") in message and HOME_COUNTY in message and "WS-L01" in message
    assert OTHER_COUNTY in page.inner_text("header")
    assert len(office.runs()) == runs


def test_an_oversized_or_malformed_upload_is_answered_with_its_error_and_nothing_is_recorded(page, office, words,
                                                                                              tmp_path):
    login(page, office, "lin")
    runs = len(office.runs())
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 30_000, encoding="utf-8")  # over the server's 200,000 bytes
    page.goto(office.url + "/evaluate")
    page.set_input_files("#upload input[type=file]", str(big))
    with page.expect_navigation() as nav:
        page.click("#upload button[type=submit]")
    assert nav.value.status == 413 and words("refused.too_large") in page.inner_text("#message")

    broken = tmp_path / "2022-07.yaml"
    broken.write_text((COUNTY / "2022-07.yaml").read_text(encoding="utf-8").replace("contract_months: 6", "contract_months: six", 1),
                      encoding="utf-8")
    done = cli("evaluate", POLICY, str(broken))
    codes = sorted(set(re.findall(r"error\[([\w.]+)\]", done.stderr)))
    assert done.exit_code == 1 and codes
    upload(page, office, broken)
    assert page.get_attribute("#state", "data-state") == "failed"
    shown = sorted({page.get_attribute(f"#problems li >> nth={i}", "data-code")
                    for i in range(page.locator("#problems li").count())})
    assert shown == codes
    assert "2022-07.yaml:" in page.inner_text("#problems") and str(tmp_path) not in page.inner_text("#problems")
    assert page.locator("#record").count() == 0
    assert len(office.runs()) == runs


DRAFT = """format: 1
extends: shanxi_2022.yaml
policy:
  id: shanxi_2022_draft
  title: 关于大力发展就业帮扶车间的若干政策措施（征求意见稿）
  document: 草案
override:
  parameters:
    stabilisation_subsidy_monthly:
      label: 稳岗补贴标准
      unit: 元/人/月
      clause: "3.3"
      values:
        - {from: 2022-06-27, value: 200, source: 晋巩固衔接办〔2022〕1号 三（三）}
        - {from: 2022-07-01, value: 300, source: 草案}
"""


def test_a_draft_shows_what_changed_and_its_payout_impact_on_an_evaluated_month(page, office, words, tmp_path):
    login(page, office, "lin")
    upload(page, office, COUNTY / "2022-07.yaml")
    job_name = "2022-07.yaml"
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT, encoding="utf-8")
    served = tmp_path / "shanxi_2022.yaml"
    served.write_bytes(Path(POLICY).read_bytes())
    done = cli("diff", POLICY, str(draft), "--facts", str(COUNTY / "2022-07.yaml"), "--format", "json")
    assert done.exit_code == 0, done.output
    impact = json.loads(done.stdout)["impact"]

    page.click(f"text={words('nav.draft')}")
    page.set_input_files("#draft input[type=file]", str(draft))
    page.select_option("#draft select[name=job]", label=page.locator("#draft select option", has_text=job_name)
                       .first.inner_text())
    page.click("#draft button[type=submit]")
    page.locator("#changes").wait_for()
    assert "stabilisation_subsidy_monthly" in page.inner_text("#changes")
    assert amount(page.inner_text("#after-total")) == impact["after"]["granted"]
    assert amount(page.inner_text("#before-total")) == impact["before"]["granted"]
    assert page.locator("#impact-subjects tbody tr").count() == len(impact["subjects"]) > 0
    shoot(page, "draft")
