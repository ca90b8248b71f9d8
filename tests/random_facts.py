"""Random facts built around every threshold of the Shanxi measures (revised contract), for cross-checks.

Seeded and reproducible. Values sit on both sides of each boundary:

- status: no certification; a stated certification (route ``general`` or ``labour_intensive``) before
  the period or inside it; a revocation after it (revoked), on the same day (the certification
  stands), before it (the certification stands), or with no certification at all (revoked);
- 3.1: 4/5/6 target production workers, 59%/60% on public sites; micro and small enterprises (some
  labour-intensive, which 3.1 still certifies) and medium/large ones (which it refuses);
- 3.5: 29/30, 49/50, 99/100 subsidised workers; 999/1000 staff and 29.9%/30% subsidised for
  labour-intensive enterprises of every size (some whose subsidised staff are all managers, so
  only 3.5(b) can certify them); histories with an award already paid (A > 0), hiring subsidies
  already paid (H > 0), and ties T == H + N;
- 4.4: halts of 3/4 months, 5/6 months below standard;
- workers: hires on 2022-06-26/27 and on the period's first and last days, leavers, contracts of
  5/6/11/12 months, incomes around half the minimum wage of each wage era (2022, 2023-24, 2025+),
  months without a reported income, social-insurance bases around the 2022 cap (4,246.9) and the
  spec's rounding example, social-insurance histories of 30/33/35/36/40 months, births around the
  2025 retirement reform's cohort boundaries (men 1964-12/1965-01, women of base 55 1969-12/1970-01,
  women of base 50 1974-12/1975-01, the last delayed cohorts 1976-12, 1981-12, 1984-12), on 29 February
  and on the 31st, stated base ages of 55 and odd ones such as 58, hires exactly five years before
  retirement (and a day either side);
- periods from 2022-07 to 2026-12: inside 2022 (3.8 decided), across the 2022/2023 boundary and in
  2023+ (3.8 pending without a 2022 average wage), across the 2025 minimum wage, some starting or
  ending mid-month;
- loans whose 24 months end inside the period, principals around the 3,000,000 cap.

Month entries lie only inside each worker's employment (hire month to ``left_on`` month), never twice.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import random
from decimal import Decimal

PERIODS = [(dt.date(2022, 7, 1), dt.date(2022, 12, 31)), (dt.date(2022, 7, 1), dt.date(2022, 12, 31)),
           (dt.date(2022, 7, 1), dt.date(2022, 9, 30)), (dt.date(2022, 7, 15), dt.date(2022, 12, 15)),
           (dt.date(2022, 10, 1), dt.date(2023, 3, 31)), (dt.date(2022, 11, 1), dt.date(2023, 2, 28)),
           (dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
           (dt.date(2024, 7, 1), dt.date(2025, 6, 30)), (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
           (dt.date(2026, 7, 1), dt.date(2026, 12, 31))]
#: half the minimum wage by area, for the eras from 2021-10, 2023-01 and 2025-01
HALF = [(dt.date(2021, 10, 1), {1: Decimal(940), 2: Decimal(880), 3: Decimal(815)}),
        (dt.date(2023, 1, 1), {1: Decimal(990), 2: Decimal(940), 3: Decimal(890)}),
        (dt.date(2025, 1, 1), {1: Decimal(1075), 2: Decimal(1025), 3: Decimal(975)})]
#: (sex, birth date, stated base age or None) around the retirement rules
EDGE_BIRTHS = [
    ("male", dt.date(1964, 12, 31), None), ("male", dt.date(1965, 1, 31), None), ("male", dt.date(1965, 1, 1), None),
    ("male", dt.date(1965, 5, 31), None), ("male", dt.date(1976, 12, 31), None), ("male", dt.date(1977, 1, 15), None),
    ("male", dt.date(1964, 2, 29), None), ("male", dt.date(1968, 2, 29), None), ("male", dt.date(1962, 9, 30), None),
    ("male", dt.date(1962, 12, 31), None), ("male", dt.date(1964, 8, 31), 58), ("male", dt.date(1970, 3, 15), 55),
    ("female", dt.date(1969, 12, 31), 55), ("female", dt.date(1970, 1, 31), 55), ("female", dt.date(1981, 12, 31), 55),
    ("female", dt.date(1982, 1, 1), 55), ("female", dt.date(1967, 10, 31), 55), ("female", dt.date(1972, 2, 29), 55),
    ("female", dt.date(1974, 12, 31), None), ("female", dt.date(1975, 1, 31), None), ("female", dt.date(1975, 4, 2), None),
    ("female", dt.date(1984, 12, 31), None), ("female", dt.date(1985, 1, 1), None), ("female", dt.date(1972, 2, 29), None),
    ("female", dt.date(1976, 2, 29), None), ("female", dt.date(1972, 8, 31), None), ("female", dt.date(1966, 5, 31), 58),
    ("female", dt.date(1975, 8, 31), 60),
]
CATEGORIES = [["poverty_alleviated"], ["monitored"], ["relocated"], ["relocated", "monitored"],
              ["poverty_alleviated", "relocated"], []]
GENERAL_ENTITIES = ["cooperative", "individual_business", "other", "enterprise"]


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _months(first: dt.date, last: dt.date):
    """First days of the months from first's month to last's month."""
    day = first.replace(day=1)
    while day <= last:
        yield day
        day = _add_months(day, 1)


def _half(first: dt.date, area: int) -> Decimal:
    value = None
    for since, table in HALF:
        if since <= first:
            value = table[area]
    return value


def _rough_retirement(sex: str, birth: dt.date, base) -> dt.date:
    """Near enough to the retirement date to place hires around 'five years before' (the exact date
    is the reference's business; a day or two either side is what the generator wants)."""
    age = base if base is not None else (60 if sex == "male" else 50)
    rows = {60: ((1965, 1), 4, 36), 55: ((1970, 1), 4, 36), 50: ((1975, 1), 2, 60)}
    delay = 0
    if age in rows:
        (fy, fm), per, most = rows[age]
        m = (birth.year - fy) * 12 + birth.month - fm
        if m >= 0:
            delay = min(most, m // per + 1)
    return _add_months(_add_months(birth, 12 * age), delay)


def _worker(rng: random.Random, wid: str, period, area: int, categories=None, role="production", hired=None,
            light=False) -> dict:
    start, end = period
    if categories is None:
        categories = rng.choice(CATEGORIES)
    w = {"id": wid, "categories": list(categories), "role": role}
    retire = None
    if not light and rng.random() < 0.3:
        sex, birth, base = rng.choice(EDGE_BIRTHS)
        if base is not None:
            w["retirement_age"] = base
        retire = _rough_retirement(sex, birth, base)
    else:
        sex = rng.choice(["male", "female"])
        birth = dt.date(rng.randint(1975, 2002), rng.randint(1, 12), rng.randint(1, 28))
        if rng.random() < 0.1:
            birth = rng.choice([dt.date(1988, 2, 29), dt.date(1990, 1, 31), dt.date(1979, 10, 31)])
        if sex == "female" and rng.random() < 0.1:
            w["retirement_age"] = rng.choice([55, 58])
    w["sex"] = sex
    w["birth_date"] = birth

    choices = [dt.date(2022, 6, 26), dt.date(2022, 6, 27), dt.date(2020, 1, 1), dt.date(2021, 3, 1),
               start, start + dt.timedelta(days=20), start + dt.timedelta(days=45), end, start - dt.timedelta(days=1)]
    if hired is not None and rng.random() < 0.95:
        hired_on = hired
    elif retire is not None and rng.random() < 0.6:
        hired_on = _add_months(retire, -60) + dt.timedelta(days=rng.choice([-1, 0, 1]))
    else:
        hired_on = rng.choice(choices)
    if hired_on > end:
        hired_on = rng.choice(choices[:4])
    w["hired_on"] = hired_on
    left_on = None
    if rng.random() < 0.15:
        left_on = rng.choice([start - dt.timedelta(days=1), start + dt.timedelta(days=40), end,
                              end + dt.timedelta(days=31), hired_on])
        if left_on < hired_on:
            left_on = hired_on
        w["left_on"] = left_on
    w["contract_months"] = rng.choice([0, 5, 6, 11, 12, 12, 24])
    if rng.random() < 0.4:
        w["history"] = {"one_time_subsidy_paid": rng.random() < 0.3, "training_subsidy_paid": rng.random() < 0.3,
                        "si_subsidy_months": rng.choice([0, 30, 33, 34, 35, 35, 36, 40])}
    if rng.random() < 0.3:
        w["training"] = {"pre_job": rng.random() < 0.8, "real_name_registered": rng.random() < 0.8,
                         "completed_on": rng.choice([start, end, start - dt.timedelta(days=1), end + dt.timedelta(days=1),
                                                     start + dt.timedelta(days=30)])}

    # month entries: only inside the employment, a little before and after the period too
    first = max(hired_on, _add_months(start.replace(day=1), -1))
    last = _add_months(end.replace(day=1), 1)
    if left_on is not None:
        last = min(last, left_on)
    months = []
    for day in _months(first, last):
        if rng.random() < (0.12 if light else 0.8):
            months.append(_month(rng, day, area))
    w["months"] = months
    return w


def _month(rng: random.Random, first: dt.date, area: int) -> dict:
    entry = {"month": f"{first.year}-{first.month:02d}"}
    r = rng.random()
    if r < 0.45:  # around half the minimum wage in force (or of another era), with a reason
        half = _half(first, area) if rng.random() < 0.75 else rng.choice(HALF)[1][area]
        entry["income"] = half + rng.choice([Decimal("-0.01"), Decimal(0), Decimal("0.01"), Decimal(-300),
                                             Decimal("-123.45"), Decimal(400)])
        entry["shortfall_reason"] = rng.choice(["training", "epidemic", "order_adjustment", "other"])
    elif r < 0.55:  # a listed reason but no income reported
        entry["shortfall_reason"] = rng.choice(["training", "epidemic"])
        if rng.random() < 0.5:
            entry["income"] = None
    elif r < 0.85:
        entry["income"] = Decimal(rng.randint(1500, 4000))
    if rng.random() < 0.6:
        base = rng.choice([Decimal(0), Decimal(3000), Decimal(4246), Decimal("4246.9"), Decimal(4247), Decimal(5000),
                           Decimal(6808), Decimal("8493.8")])
        if base == 6808 and rng.random() < 0.7:
            paid = Decimal("1021.20")  # the spec's rounding example: 637.035 -> 637.04
        elif rng.random() < 0.7:
            paid = (base * Decimal("0.28")).quantize(Decimal("0.01"))
        else:
            paid = Decimal("1000.01")
        entry["social_insurance"] = {"base": base, "employer_paid": paid, "fully_paid": rng.random() < 0.8}
    if rng.random() < 0.06:
        entry["wage_arrears"] = True
    return entry


def _status(rng: random.Random, period, routes=("general",)) -> dict:
    """certification / revocation as stated in the facts (revocation < start, certification <= end)."""
    start, end = period
    before = start - dt.timedelta(days=rng.choice([1, 40, 200]))
    earlier = before - dt.timedelta(days=rng.choice([1, 30]))
    route = rng.choice(routes)
    r = rng.random()
    if r < 0.5:
        return {}
    if r < 0.7:  # certified before the period
        return {"certification": {"on": before, "route": route}}
    if r < 0.78:  # certified inside the period: still "certified before" (it is dated on or before the end)
        return {"certification": {"on": rng.choice([start, start + dt.timedelta(days=10), end]), "route": route}}
    if r < 0.84:  # same day: the certification stands
        return {"certification": {"on": before, "route": route}, "revocation": {"on": before}}
    if r < 0.88:  # revoked before, certified again later: certified
        return {"certification": {"on": before, "route": route}, "revocation": {"on": earlier}}
    if r < 0.95:  # revoked after the certification
        return {"certification": {"on": earlier, "route": route}, "revocation": {"on": before}}
    return {"revocation": {"on": before}}  # a revocation with no certification: revoked


def _entity(rng: random.Random, ws: dict, sizes=("micro", "small")) -> None:
    ws["entity_type"] = rng.choice(GENERAL_ENTITIES)
    if ws["entity_type"] == "enterprise":
        ws["enterprise_size"] = rng.choice(sizes)
        ws["labour_intensive"] = rng.random() < 0.3
    elif rng.random() < 0.2:
        ws["labour_intensive"] = False


def _expected_hires(workers, period) -> int:
    """This evaluation's 3.2 sum if every listed hire is paid: to set up ties T == H + N."""
    start, end = period
    return sum(1500 for w in workers if set(w["categories"]) & {"poverty_alleviated", "monitored"}
               and start <= w["hired_on"] <= end and not (w.get("history") or {}).get("one_time_subsidy_paid"))


def random_workshop(rng: random.Random, n: int, period) -> dict:
    start, end = period
    area = rng.choice([1, 2, 3])
    ws = {"id": f"WS-{n:04d}", "wage_area": area, "city": rng.choice(["忻州市", "吕梁市", "临汾市"]),
          "county": rng.choice(["岢岚县", "临县", "吉县"])}
    workers = []
    kind = rng.random()
    if kind < 0.13:  # a labour-intensive enterprise around 3.5(b)'s 1000 staff and 30%
        ws["entity_type"] = "enterprise"
        ws["enterprise_size"] = rng.choice(["micro", "small", "medium", "large", "large"])
        ws["labour_intensive"] = True
        ws["headcount"] = rng.choice([999, 1000, 1000, 1001])
        subsidised = rng.choice([299, 300, 300, 301])
        # managers only: 3.1 cannot certify even a micro or small one, 3.5(b) can
        role = "management" if rng.random() < (0.5 if ws["enterprise_size"] in ("micro", "small") else 0.2) else "production"
        for i in range(subsidised):
            hired = rng.choice([dt.date(2020, 1, 1), start, start + dt.timedelta(days=20)])
            workers.append(_worker(rng, f"{n}-L{i}", period, area, [rng.choice(["poverty_alleviated", "monitored"])],
                                   role=role, hired=hired, light=True))
        ws.update(_status(rng, period, ("labour_intensive", "labour_intensive", "general")))
        r = rng.random()
        if r < 0.2:  # an award paid before (when it was certified on the general route): every 3.2 suppressed
            ws["history"] = {"award_paid": Decimal(50000), "hiring_subsidies_paid": Decimal(0)}
        elif r < 0.4:
            ws["history"] = {"award_paid": Decimal(0), "hiring_subsidies_paid": Decimal(rng.choice([1500, 30000]))}
    elif kind < 0.22:  # a medium or large enterprise: 3.1 refuses it, a stated certification does not
        ws["entity_type"] = "enterprise"
        ws["enterprise_size"] = rng.choice(["medium", "large"])
        ws["labour_intensive"] = rng.random() < 0.5
        for i in range(rng.choice([5, 6, 8])):
            workers.append(_worker(rng, f"{n}-T{i}", period, area, rng.choice(CATEGORIES[:5])))
        ws.update(_status(rng, period))
    elif kind < 0.45:  # a base: the award's tiers against the one-time subsidies, with histories
        _entity(rng, ws)
        ws["base_recognized"] = rng.random() < 0.9
        count = rng.choice([29, 30, 31, 40, 49, 50, 51, 80, 99, 100, 101])
        spree = start + dt.timedelta(days=20) if rng.random() < 0.6 else None
        for i in range(count):
            cats = rng.choice([["poverty_alleviated"], ["monitored"], ["monitored", "relocated"]])
            workers.append(_worker(rng, f"{n}-S{i}", period, area, cats, hired=spree, light=count > 40))
        for i in range(rng.randint(0, 3)):
            workers.append(_worker(rng, f"{n}-X{i}", period, area, [rng.choice(["relocated"])],
                                   role=rng.choice(["management", "technical", "production"])))
        tier = 250000 if count >= 100 else 100000 if count >= 50 else 50000 if count >= 30 else 0
        hires = _expected_hires(workers, period)
        r = rng.random()
        if r < 0.2 and tier > hires:  # a tie: T == H + N, the award wins
            ws["history"] = {"award_paid": Decimal(0), "hiring_subsidies_paid": Decimal(tier - hires)}
        elif r < 0.3 and tier > hires + 1500:  # one hire short of the tie: the subsidies win
            ws["history"] = {"award_paid": Decimal(0), "hiring_subsidies_paid": Decimal(tier - hires + 1500)}
        elif r < 0.5:  # an award already paid: the award side, topped up or not
            ws["history"] = {"award_paid": Decimal(rng.choice([5000, 50000, 100000])),
                             "hiring_subsidies_paid": Decimal(rng.choice([0, 0, 3000]))}
        elif r < 0.65:
            ws["history"] = {"award_paid": Decimal(0), "hiring_subsidies_paid": Decimal(rng.choice([1500, 30000, 60000]))}
        ws.update(_status(rng, period))
    elif kind < 0.52:  # a public site at 59% / 60% of 100 staff
        _entity(rng, ws)
        ws["site"] = {rng.choice(["government_invested", "collective_free_use", "integrated_agri_funds"]): True}
        target = rng.choice([59, 60])
        for i in range(target):
            workers.append(_worker(rng, f"{n}-T{i}", period, area, [rng.choice(["relocated", "poverty_alleviated"])],
                                   light=True))
        ws["headcount"] = 100
        ws.update(_status(rng, period))
    else:  # a small workshop around 3.1's five target production workers
        _entity(rng, ws)
        target = rng.choice([3, 4, 5, 6, 7])
        for i in range(target):
            cats = rng.choice([["poverty_alleviated"], ["monitored"], ["relocated"], ["monitored", "relocated"]])
            workers.append(_worker(rng, f"{n}-T{i}", period, area, cats))
        for i in range(rng.randint(0, 3)):
            workers.append(_worker(rng, f"{n}-X{i}", period, area,
                                   role=rng.choice(["management", "technical", "production"])))
        if rng.random() < 0.3:
            ws["site"] = {rng.choice(["government_invested", "collective_free_use", "integrated_agri_funds"]): True}
            # around 60%: 6 of 10 is 60%, 6 of 11 is 54.5%, 5 of 8 is 62.5%, 5 of 9 is 55.6%
            ws["headcount"] = max(len(workers), target * 5 // 3) + rng.choice([0, 1])
        elif rng.random() < 0.2:
            ws["headcount"] = len(workers) + rng.choice([0, 3])
        if rng.random() < 0.3:
            ws["base_recognized"] = True
        ws.update(_status(rng, period, ("general", "general", "labour_intensive")))
        if rng.random() < 0.15:
            ws["history"] = {"award_paid": Decimal(rng.choice([0, 50000])), "hiring_subsidies_paid": Decimal(1500)}
    ws["workers"] = workers
    ws["production"] = {"halted_months": rng.choice([0, 0, 3, 4]), "recovery_failed": rng.random() < 0.5}
    ws["months_below_standard"] = rng.choice([0, 0, 5, 6])
    loans = []
    for j in range(rng.choice([0, 0, 1, 2])):
        # 24 months from the start month: months_before = 22/23/24 end the subsidy inside or just before the period
        months_before = rng.choice([0, 1, 12, 22, 23, 24, 25, -2])
        loan_start = _add_months(start.replace(day=1), -months_before).replace(day=rng.choice([1, 15, 28]))
        loans.append({"id": f"L-{j}", "type": rng.choice(["startup_guarantee", "startup_guarantee", "equipment"]),
                      "principal": Decimal(rng.choice([500000, 2999999, 3000000, 3000001, 5000000])),
                      "annual_rate": rng.choice([Decimal("0.0385"), Decimal("0.0435"), Decimal("0.04"), Decimal("0.0365")]),
                      "start": loan_start})
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
