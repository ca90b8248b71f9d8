"""Random facts built around every threshold of the Shanxi measures, for cross-checks.

Seeded and reproducible. Values sit on both sides of each boundary: 4/5/6 target
workers, 59%/60% on public sites, 29/30, 49/50, 99/100 subsidised workers,
999/1000 staff and 29.9%/30% for labour-intensive firms, hires on 2022-06-26/27,
contracts of 5/6/11/12 months, incomes around half the minimum wage, halts of
3/4 months, 5/6 months below standard, social-insurance histories that run out
inside the period, workers near retirement (some born on 29 February), loans
whose 24 months end inside the period, principals around the 3,000,000 cap.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

PERIODS = [(dt.date(2022, 7, 1), dt.date(2022, 12, 31)), (dt.date(2022, 6, 26), dt.date(2022, 12, 31)),
           (dt.date(2022, 7, 1), dt.date(2022, 9, 30)), (dt.date(2022, 10, 1), dt.date(2022, 12, 31))]
HALF = {1: Decimal(940), 2: Decimal(880), 3: Decimal(815)}


def _worker(rng: random.Random, wid: str, period, area: int, categories=None, role="production", hired=None):
    start, end = period
    if categories is None:
        categories = rng.choice([["poverty_alleviated"], ["monitored"], ["relocated"], ["relocated", "monitored"],
                                 ["poverty_alleviated", "relocated"], []])
    sex = rng.choice(["male", "female"])
    near = rng.random() < 0.2
    if near:
        age = 60 if sex == "male" else 50
        birth = dt.date(2022 - age + rng.choice([1, 2, 3, 4]), rng.randint(1, 12), 1)
        if rng.random() < 0.3:
            birth = dt.date(1972 if sex == "female" else 1964, 2, 29)
    else:
        birth = dt.date(rng.randint(1975, 2000), rng.randint(1, 12), rng.randint(1, 28))
    if hired is not None and rng.random() < 0.95:
        hired_on = hired
    else:
        hired_on = rng.choice([dt.date(2022, 6, 26), dt.date(2022, 6, 27), dt.date(2022, 7, 1), dt.date(2022, 8, 15),
                               dt.date(2022, 10, 3), dt.date(2021, 3, 1), dt.date(2020, 1, 1), dt.date(2022, 12, 31)])
    hired = hired_on
    w = {"id": wid, "categories": categories, "role": role, "sex": sex, "birth_date": birth, "hired_on": hired,
         "contract_months": rng.choice([0, 5, 6, 11, 12, 24])}
    if rng.random() < 0.3:
        w["history"] = {"one_time_subsidy_paid": rng.random() < 0.3, "training_subsidy_paid": rng.random() < 0.3,
                        "si_subsidy_months": rng.choice([0, 30, 33, 35, 36, 40])}
    if rng.random() < 0.3:
        w["training"] = {"pre_job": rng.random() < 0.8, "real_name_registered": rng.random() < 0.8,
                         "completed_on": rng.choice([dt.date(2022, 7, 1), dt.date(2022, 9, 30), dt.date(2022, 12, 31),
                                                     dt.date(2023, 1, 1), dt.date(2021, 12, 1)])}
    months = []
    y, m = 2022, 7
    while (y, m) <= (2022, 12):
        if rng.random() < 0.75:
            entry = {"month": f"{y}-{m:02d}"}
            r = rng.random()
            if r < 0.5:
                entry["income"] = HALF[area] + rng.choice([Decimal("-0.01"), Decimal(0), Decimal("0.01"), Decimal(-300), Decimal(400)])
                entry["shortfall_reason"] = rng.choice(["training", "epidemic", "order_adjustment", "other"])
            elif r < 0.8:
                entry["income"] = Decimal(rng.randint(1500, 4000))
            if rng.random() < 0.6:
                base = Decimal(rng.choice([3000, 4246, 4247, 5000, 8493.8]))
                entry["social_insurance"] = {"base": base, "employer_paid": (base * Decimal("0.28")).quantize(Decimal("0.01"))
                                             if rng.random() < 0.7 else Decimal("1000.01"),
                                             "fully_paid": rng.random() < 0.8}
            if rng.random() < 0.1:
                entry["wage_arrears"] = True
            months.append(entry)
        m += 1
        if m == 13:
            y, m = y + 1, 1
    w["months"] = months
    return w


def random_workshop(rng: random.Random, n: int, period) -> dict:
    area = rng.choice([1, 2, 3])
    kind = rng.random()
    ws = {"id": f"WS-{n:04d}", "wage_area": area, "city": rng.choice(["忻州市", "吕梁市", "临汾市"]),
          "county": rng.choice(["岢岚县", "临县", "吉县"])}
    workers = []
    if kind < 0.1:  # labour-intensive route of 3.5
        ws["entity_type"] = "labor_intensive_enterprise"
        headcount = rng.choice([999, 1000, 1001])
        subsidised = rng.choice([299, 300, 301])
        for i in range(subsidised):
            workers.append({"id": f"{n}-L{i}", "categories": ["poverty_alleviated"], "sex": "male",
                            "birth_date": dt.date(1990, 1, 1), "hired_on": rng.choice([dt.date(2020, 1, 1), dt.date(2022, 8, 1)])})
        ws["headcount"] = headcount
    else:
        ws["entity_type"] = rng.choice(["micro_enterprise", "cooperative", "other"])
        target = rng.choice([4, 5, 6, 7])
        spree = None
        if rng.random() < 0.25:
            target = rng.choice([29, 30, 31, 34, 40, 49, 50, 51, 67, 80, 99, 100])
            if rng.random() < 0.5:  # a base hiring many at once: the one-time subsidies may outweigh the award
                spree = period[0] + dt.timedelta(days=20)
        for i in range(target):
            cats = rng.choice([["poverty_alleviated"], ["monitored"], ["relocated"], ["monitored", "relocated"]])
            if spree:
                cats = rng.choice([["poverty_alleviated"], ["monitored"]])
            workers.append(_worker(rng, f"{n}-T{i}", period, area, cats, hired=spree))
        for i in range(rng.randint(0, 3)):
            workers.append(_worker(rng, f"{n}-X{i}", period, area, role=rng.choice(["management", "technical", "production"])))
        if rng.random() < 0.3:
            ws["site"] = {rng.choice(["government_invested", "collective_free_use", "integrated_agri_funds"]): True}
            # around 60%: e.g. 6 of 10 is 60%, 6 of 11 is 54.5%
            ws["headcount"] = len(workers) + rng.choice([0, 1, 2, 3, 4, 5])
        if rng.random() < 0.4 or spree:
            ws["base_recognized"] = True
            if rng.random() < 0.3:
                # 5000 paid before leaves 45,000 = 30 x 1,500: a tie with 30 hires
                ws["history"] = {"award_paid": rng.choice([5000, 50000, 100000])}
    ws["workers"] = workers
    ws["production"] = {"halted_months": rng.choice([0, 0, 3, 4]), "recovery_failed": rng.random() < 0.5}
    ws["months_below_standard"] = rng.choice([0, 0, 5, 6])
    loans = []
    for j in range(rng.choice([0, 0, 1, 2])):
        loans.append({"id": f"L-{j}", "type": rng.choice(["startup_guarantee", "startup_guarantee", "equipment"]),
                      "principal": Decimal(rng.choice([500000, 2999999, 3000000, 3000001, 5000000])),
                      "annual_rate": rng.choice([Decimal("0.0385"), Decimal("0.0435"), Decimal("0.04")]),
                      "start": rng.choice([dt.date(2020, 6, 1), dt.date(2020, 8, 15), dt.date(2020, 10, 1),
                                           dt.date(2022, 1, 1), dt.date(2022, 9, 1), dt.date(2023, 2, 1)])})
    ws["loans"] = loans
    return ws


def random_facts(seed: int, workshops: int) -> dict:
    rng = random.Random(seed)
    period = rng.choice(PERIODS)
    return {"period": {"start": period[0], "end": period[1]},
            "workshops": [random_workshop(rng, n, period) for n in range(workshops)]}


def to_json_text(facts: dict) -> str:
    def default(value):
        if isinstance(value, (dt.date, Decimal)):
            return str(value)
        raise TypeError(value)
    return json.dumps(facts, ensure_ascii=False, default=default)
