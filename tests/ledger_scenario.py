"""A county office's year: one workshop evaluated month by month, July 2022 to June 2023.

Built in code so every number is visible here:

- 29 subsidised workers on the books since 2022-01 and E-01, a long-serving worker with 28 months of
  social-insurance subsidy already paid under earlier records (carried into the ledger once);
- July 2022: 3.1 certifies the workshop (a micro enterprise with 30 target production workers); from
  August on it is "certified before" (the ledger's certification, dated 2022-07-01, route general) and
  is not re-tested; its 30 subsidised workers make the recognised base's award 50,000;
- new hires each month from August. Under 3.5's exclusivity, judged over time, a workshop once paid
  the award stays on the award side (``history.award_paid > 0``): every later month's hires are
  ``suppressed``, never paid, so ``history.hiring_subsidies_paid`` stays 0;
- the 51st subsidised worker arrives in January 2023: the award is topped up by
  100,000 - 50,000 (already paid) - 0 (hiring subsidies paid) = 50,000, and that month's 3 hires are
  suppressed as well;
- H-02 leaves after September (off the books October to February) and is hired again in March 2023:
  the second spell is its own record (hired_on 2023-03-15, months from March only), so no month entry
  lies outside an employment. The training subsidy is paid once per person (August), never again; the
  one-time subsidy is never paid to anyone here (each hire is suppressed under the award, H-02's
  second hire too: a suppressed subsidy is not a payment, so it is decided again, suppressed again);
- E-01's 36-month social-insurance limit is reached in February 2023, across the year boundary.

:class:`Reading` keeps the history by hand, as a clerk reading the measures would (the certification
and its date, a revocation if 4.4 gave one, the award paid, the 3.2 subsidies granted to this
workshop's workers, one-time payments per person, social-insurance months), and feeds
``reference.decide`` (the independent reading of the spec) month by month: what the engine and the
ledger pay must equal it. The facts given to the engine carry no ``history`` and no
``certification``: the ledger supplies them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Dict, List

import yaml

MONTHS = [(2022, m) for m in range(7, 13)] + [(2023, m) for m in range(1, 7)]
#: Hires per month (Aug 2022 .. Jun 2023): the count of subsidised workers passes 50 in January 2023.
HIRES = {(2022, 8): 3, (2022, 9): 4, (2022, 10): 4, (2022, 11): 4, (2022, 12): 4, (2023, 1): 3, (2023, 2): 1,
         (2023, 3): 1, (2023, 4): 1, (2023, 5): 1, (2023, 6): 1}
#: An illustrative 2022 provincial average wage, so 3.8 can be decided for 2023 months in the tests: the
#: bundled policy has only the 2020 and 2021 figures. Used by the test fork and by the reference alike.
AVERAGE_WAGE_2022 = 90000

FORK = """format: 1
extends: {parent}
policy: {{id: ledger_test, title: test fork with a 2022 average wage}}
override:
  parameters:
    provincial_average_annual_wage:
      label: 全省在岗职工年平均工资（测试用2022年数值）
      unit: 元/年
      clause: "3.8"
      values:
        - {{from: 2020-01-01, until: 2020-12-31, value: 77364, source: 山西省统计局}}
        - {{from: 2021-01-01, until: 2021-12-31, value: 84938, source: 山西省统计局}}
        - {{from: 2022-01-01, until: 2022-12-31, value: {wage}, source: illustrative test value}}
"""


def month_text(ym) -> str:
    return f"{ym[0]}-{ym[1]:02d}"


def _first(ym) -> dt.date:
    return dt.date(ym[0], ym[1], 1)


def _last(ym) -> dt.date:
    nxt = (ym[0] + (ym[1] == 12), ym[1] % 12 + 1)
    return _first(nxt) - dt.timedelta(days=1)


def _worker(wid: str, hired: dt.date, contract: int, si: bool, training: dt.date = None) -> dict:
    w = {"id": wid, "categories": ["poverty_alleviated"], "role": "production", "sex": "female",
         "birth_date": dt.date(1988, 5, 17), "hired_on": hired, "contract_months": contract}
    if training:
        w["training"] = {"pre_job": True, "real_name_registered": True, "completed_on": training}
    w["_si"] = si
    return w


def roster() -> Dict[tuple, List[dict]]:
    """The workers on the books in each month."""
    base = [_worker(f"B-{n:02d}", dt.date(2022, 1, 10), 6, False) for n in range(1, 30)]
    elder = _worker("E-01", dt.date(2020, 3, 1), 36, True)
    hires: List[dict] = []
    out = {}
    n = 0
    for ym in MONTHS:
        for k in range(HIRES.get(ym, 0)):
            n += 1
            day = _first(ym) + dt.timedelta(days=9 + k)
            hires.append(_worker(f"H-{n:02d}", day, 12, n % 2 == 1, training=day - dt.timedelta(days=3)))
        present = [w for w in hires if not (w["id"] == "H-02" and (2022, 10) <= ym < (2023, 3))]
        if ym >= (2023, 3):  # H-02 comes back: hired again, trained again
            again = _first((2023, 3)) + dt.timedelta(days=14)
            present = [dict(w, hired_on=again, training={"pre_job": True, "real_name_registered": True,
                                                           "completed_on": again})
                       if w["id"] == "H-02" else w for w in present]
        out[ym] = base + [elder] + present
    return out


def facts(ym, workers: List[dict], history: Dict[str, dict] = None, award_paid=None) -> dict:
    """The facts file of one month; ``history`` (worker id -> history) only where a test states it."""
    month = month_text(ym)
    listed = []
    for worker in workers:
        w = {k: v for k, v in worker.items() if not k.startswith("_")}
        entry = {"month": month, "income": Decimal(2600)}
        if worker["_si"]:
            entry["social_insurance"] = {"base": Decimal(4000), "employer_paid": Decimal("640.00"), "fully_paid": True}
        w["months"] = [entry]
        if history and w["id"] in history:
            w["history"] = dict(history[w["id"]])
        listed.append(w)
    shop = {"id": "WS-L01", "name": "临县帮扶车间", "city": "吕梁市", "county": "临县", "wage_area": 3,
            "entity_type": "enterprise", "enterprise_size": "micro", "base_recognized": True, "workers": listed}
    if award_paid is not None:
        shop["history"] = {"award_paid": award_paid}
    return {"period": {"start": _first(ym), "end": _last(ym)}, "workshops": [shop]}


def to_yaml(data: dict) -> str:
    def plain(x):
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, list):
            return [plain(v) for v in x]
        if isinstance(x, Decimal):
            return str(x)
        return x
    return yaml.safe_dump(plain(data), allow_unicode=True, sort_keys=False)


#: What the clerk carries into the ledger before July 2022: E-01's 28 months and one-time subsidy.
CARRIED = {"E-01": {"one_time_subsidy_paid": True, "si_subsidy_months": 28}}


class Reading:
    """History kept by hand from what was decided and paid, for the reference reading of each month."""

    def __init__(self):
        self.one_time = {wid for wid, h in CARRIED.items() if h.get("one_time_subsidy_paid")}
        self.training = set()
        self.si_months = {wid: h.get("si_subsidy_months", 0) for wid, h in CARRIED.items()}
        self.award_paid = Decimal(0)
        #: 3.2 amounts granted (not suppressed) to this workshop's workers in earlier months
        self.hiring_paid = Decimal(0)
        #: the workshop's certification ({on, route}) once a month's run certified it, and a 4.4 revocation
        self.certification = None
        self.revocation = None

    def facts(self, ym, workers) -> dict:
        history = {w["id"]: {"one_time_subsidy_paid": w["id"] in self.one_time,
                             "training_subsidy_paid": w["id"] in self.training,
                             "si_subsidy_months": self.si_months.get(w["id"], 0)} for w in workers}
        data = facts(ym, workers, history, self.award_paid)
        shop = data["workshops"][0]
        shop["history"]["hiring_subsidies_paid"] = self.hiring_paid
        if self.certification is not None:
            shop["certification"] = dict(self.certification)
        if self.revocation is not None:
            shop["revocation"] = dict(self.revocation)
        return data

    def paid(self, ym, workers, decisions) -> None:
        """Update the history from one month's reference decisions."""
        by_id = {w["id"]: w for w in workers}
        for ws, worker, loan, clause, outcome, amount in decisions:
            if outcome == "certified":
                if self.certification is None:  # decided now: dated the start of this month's period
                    route = "general" if clause == "3.1" else "labour_intensive"
                    self.certification = {"on": _first(ym), "route": route}
                continue
            if outcome == "revoked":  # 4.4: from the day after this month's period
                self.revocation = {"on": _last(ym) + dt.timedelta(days=1)}
                continue
            if outcome != "granted":  # suppressed, pending, discretionary, alert: nothing paid
                continue
            if clause == "3.2":
                self.one_time.add(worker)
                self.hiring_paid += amount
            elif clause == "3.7":
                self.training.add(worker)
            elif clause == "3.5":
                self.award_paid += amount
            elif clause == "3.8":
                # one month in the period, paid: a month of the 36 is used (nobody here is near retirement)
                assert by_id[worker]["_si"]
                self.si_months[worker] = self.si_months.get(worker, 0) + 1
