"""An independent, straight-line reading of the revised semantics note for the Shanxi 2022 measures.

Written from the spec (semantics.md, revised: certification as a status with a date and a route,
4.4 as its only exit, exclusivity over earlier periods, the 2025 retirement reform, pending
parameters, exact fractions) and the measures' text alone, with the spec's numbers as literals,
sharing no code with ``engine/``. The tests run random workshops through both and require identical
decisions; the ledger scenario feeds it a history kept by hand. It is also the plain-Python baseline
a benchmark can compare the declarative engine with.

``decide(facts)`` returns tuples ``(workshop, worker, loan, clause, outcome, amount)``: the amount is
a ``Decimal`` with two places for ``granted`` and ``suppressed``, ``None`` otherwise. It does not
validate its input (an invalid facts file is the engine's business) and writes no traces.

Choices the spec leaves open, made here as the engine makes them:

- a workshop certified before the period gets one ``certified`` decision citing its route
  (``general`` -> clause 3.1, ``labour_intensive`` -> 3.5) and is not re-tested;
- a workshop revoked at the start gets no decision of its own, only its workers' 4.3 alerts;
- a 3.8 decision is ``pending`` when a month inside its window needs an average wage not in
  ``AVERAGE_WAGE`` (the tests add a 2022 figure by monkeypatching it);
- the 3.5(a) award decision names no worker and cites clause 3.5.
"""
from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from fractions import Fraction

TARGET = {"poverty_alleviated", "monitored", "relocated"}
SUBSIDISED = {"poverty_alleviated", "monitored"}
LISTED_REASONS = {"training", "epidemic", "order_adjustment"}
SITE_FLAGS = ("government_invested", "collective_free_use", "integrated_agri_funds")
#: minimum monthly wage by area, in force from the first date (the month's first day picks the value)
MIN_WAGE = [(dt.date(2021, 10, 1), {1: 1880, 2: 1760, 3: 1630}),
            (dt.date(2023, 1, 1), {1: 1980, 2: 1880, 3: 1780}),
            (dt.date(2025, 1, 1), {1: 2150, 2: 2050, 3: 1950})]
#: provincial average annual wage by statistics year; a year not here makes 3.8 pending
AVERAGE_WAGE = {2020: 77364, 2021: 84938}
BASE_AGE = {"male": 60, "female": 50}
#: retirement delay by base age: (first birth month delayed, months of birth per extra month, at most)
DELAY = {60: ((1965, 1), 4, 36), 55: ((1970, 1), 4, 36), 50: ((1975, 1), 2, 60)}
#: 3.5(a) tiers: subsidised workers -> award, highest first
TIERS = [(100, 250000), (50, 100000), (30, 50000)]
ROUTE_CLAUSE = {"general": "3.1", "labour_intensive": "3.5"}
MEASURES_IN_FORCE = dt.date(2022, 6, 27)
CENT = Decimal("0.01")


def money(x: Fraction) -> Decimal:
    """Round an exact non-negative amount to 0.01 yuan, half up."""
    cents = x * 100
    whole = cents.numerator // cents.denominator
    if cents - whole >= Fraction(1, 2):
        whole += 1
    return (Decimal(whole) / 100).quantize(CENT)


def exact(x) -> Fraction:
    return Fraction(str(x))


def add_months(d: dt.date, n: int) -> dt.date:
    """``d`` + ``n`` months; a day the month lacks gives that month's last day."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def add_years(d: dt.date, n: int) -> dt.date:
    return add_months(d, 12 * n)


def month_first(value) -> dt.date:
    """The first day of a month entry's month (``YYYY-MM`` text, or a date)."""
    if isinstance(value, dt.date):
        return value.replace(day=1)
    y, m = str(value).split("-")[:2]
    return dt.date(int(y), int(m), 1)


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole months from a's month to b's month."""
    return (b.year - a.year) * 12 + b.month - a.month


def period_months(start: dt.date, end: dt.date) -> list:
    """First days of the months in the period (a month is in it when its first day is)."""
    first = start.replace(day=1)
    if first < start:
        first = add_months(first, 1)
    out = []
    while first <= end:
        out.append(first)
        first = add_months(first, 1)
    return out


def min_wage(day: dt.date, area: int) -> int:
    value = None
    for since, table in MIN_WAGE:
        if since <= day:
            value = table[area]
    return value


def retirement_date(worker: dict) -> dt.date:
    """Birth date + base age, then + the 2025 reform's delay for the birth month (§5.2)."""
    base = worker.get("retirement_age")
    if base is None:
        base = BASE_AGE[worker["sex"]]
    birth = worker["birth_date"]
    delay = 0
    if base in DELAY:
        (fy, fm), per, most = DELAY[base]
        m = months_between(dt.date(fy, fm, 1), birth)
        if m >= 0:
            delay = min(most, m // per + 1)
    return add_months(add_years(birth, base), delay)


def decide(facts: dict) -> list:
    """Decisions as tuples (workshop, worker, loan, clause, outcome, amount or None)."""
    start, end = facts["period"]["start"], facts["period"]["end"]
    in_period = period_months(start, end)
    out = []
    for ws in facts.get("workshops") or []:
        wid = ws["id"]
        workers = ws.get("workers") or []

        def months_of(w):
            """The worker's month entries in the period, oldest first."""
            return sorted((m for m in w.get("months") or [] if start <= month_first(m["month"]) <= end),
                          key=lambda m: month_first(m["month"]))

        # 4.3: any worker, certified workshop or not
        for w in workers:
            if any(m.get("wage_arrears") for m in months_of(w)):
                out.append((wid, w["id"], None, "4.3", "alert", None))

        # status at the start of the period (5.1)
        certification = ws.get("certification")
        revocation = ws.get("revocation")
        if certification and not (revocation and revocation["on"] > certification["on"]):
            certified_before, route = True, certification["route"]
        elif revocation:
            continue  # revoked at the start: no decision of its own, never certified again by 3.1/3.5(b)
        else:
            certified_before, route = False, None

        cats = [set(w.get("categories") or []) for w in workers]
        headcount = ws.get("headcount")
        if headcount is None:
            headcount = len(workers)
        target_production = sum(1 for w, c in zip(workers, cats)
                                if c & TARGET and (w.get("role") or "production") == "production")
        subsidised = sum(1 for c in cats if c & SUBSIDISED)

        if certified_before:  # cites its certification; not re-tested; 4.4 may end it after the period
            out.append((wid, None, None, ROUTE_CLAUSE[route], "certified", None))
            production = ws.get("production") or {}
            if ((production.get("halted_months") or 0) > 3 and production.get("recovery_failed")) \
                    or (ws.get("months_below_standard") or 0) >= 6:
                out.append((wid, None, None, "4.4", "revoked", None))
        else:  # never certified: 3.1, else 3.5(b), decides now for the whole period
            site = ws.get("site") or {}
            public_site = any(site.get(flag) for flag in SITE_FLAGS)
            enterprise = ws["entity_type"] == "enterprise"
            if not (enterprise and ws.get("enterprise_size") in ("medium", "large")) \
                    and target_production >= 5 \
                    and (not public_site or Fraction(target_production, headcount) >= Fraction(60, 100)):
                route = "general"
                out.append((wid, None, None, "3.1", "certified", None))
            elif enterprise and ws.get("labour_intensive") and headcount >= 1000 \
                    and Fraction(subsidised, headcount) >= Fraction(30, 100):
                route = "labour_intensive"
                out.append((wid, None, None, "3.5", "certified", None))
            else:
                continue
        general = route == "general"

        # 3.2, collected for 3.5's exclusivity
        hires = []
        for w, c in zip(workers, cats):
            history = w.get("history") or {}
            if c & SUBSIDISED and start <= w["hired_on"] <= end and not history.get("one_time_subsidy_paid"):
                amount = 1200 if w["hired_on"] < MEASURES_IN_FORCE else 1500
                hires.append((w["id"], Decimal(amount).quantize(CENT)))

        if general:
            out.append((wid, None, None, "3.9", "discretionary", None))
            for w, c in zip(workers, cats):
                if not c & SUBSIDISED:
                    continue
                history = w.get("history") or {}
                months = months_of(w)
                contract = w.get("contract_months") or 0

                # 3.3
                if contract >= 6 and months:
                    out.append((wid, w["id"], None, "3.3", "granted", Decimal(200 * len(months)).quantize(CENT)))

                # 3.4
                top_up = Decimal("0.00")
                for m in months:
                    half = Fraction(min_wage(month_first(m["month"]), ws["wage_area"]), 2)
                    if m.get("shortfall_reason") in LISTED_REASONS and m.get("income") is not None \
                            and exact(m["income"]) < half:
                        top_up += money(half - exact(m["income"]))
                if top_up > 0:
                    out.append((wid, w["id"], None, "3.4", "granted", top_up))

                # 3.7
                training = w.get("training") or {}
                done = training.get("completed_on")
                if training.get("pre_job") and training.get("real_name_registered") and done is not None \
                        and start <= done <= end and not history.get("training_subsidy_paid"):
                    out.append((wid, w["id"], None, "3.7", "granted", Decimal("1000.00")))

                # 3.8
                if contract >= 12:
                    retire = retirement_date(w)
                    near = retire < add_years(w["hired_on"], 5)
                    qualifying = [m for m in months if (m.get("social_insurance") or {}).get("fully_paid")
                                  and month_first(m["month"]) < retire]
                    if near:
                        window = qualifying
                    else:
                        window = qualifying[:max(0, 36 - (history.get("si_subsidy_months") or 0))]
                    if any(month_first(m["month"]).year - 1 not in AVERAGE_WAGE for m in window):
                        out.append((wid, w["id"], None, "3.8", "pending", None))
                    else:
                        total = Decimal("0.00")
                        for m in window:
                            si = m["social_insurance"]
                            cap = Fraction(60, 100) * AVERAGE_WAGE[month_first(m["month"]).year - 1] / 12
                            base = exact(si["base"])
                            share = Fraction(1) if base <= cap else cap / base
                            total += money(exact(si["employer_paid"]) * share)
                        if total > 0:
                            out.append((wid, w["id"], None, "3.8", "granted", total))

        # 3.5(a) against 3.2: one group, judged on what was paid before this period too
        award_tier = 0
        if general and ws.get("base_recognized"):
            award_tier = next((amount for count, amount in TIERS if subsidised >= count), 0)
        shop_history = ws.get("history") or {}
        T = Fraction(award_tier)
        A = exact(shop_history.get("award_paid") or 0)
        H = exact(shop_history.get("hiring_subsidies_paid") or 0)
        N = sum((exact(amount) for _, amount in hires), Fraction(0))
        award_side = A > 0 or (T > 0 and T >= H + N)
        award = T - A - H
        if award > 0:
            out.append((wid, None, None, "3.5", "granted" if award_side else "suppressed", money(award)))
        for worker_id, amount in hires:
            out.append((wid, worker_id, None, "3.2", "suppressed" if award_side else "granted", amount))

        if not general:
            continue
        # 3.6
        for loan in ws.get("loans") or []:
            if loan["type"] == "equipment":
                out.append((wid, None, loan["id"], "3.6", "discretionary", None))
                continue
            if loan["type"] != "startup_guarantee":
                continue
            monthly = money(min(exact(loan["principal"]), Fraction(3000000)) * exact(loan["annual_rate"]) / 12)
            total = Decimal("0.00")
            for first in in_period:
                if 0 <= months_between(loan["start"], first) < 24:
                    total += monthly
            if total > 0:
                out.append((wid, None, loan["id"], "3.6", "granted", total))
    return out
