"""An independent, straight-line reading of semantics.md for the Shanxi 2022 measures.

Written from the spec alone, with its numbers as literals and exact fractions,
sharing no code with ``engine/``. The tests run random workshops through both
and require identical decisions. It is also the plain-Python baseline a
benchmark can compare the declarative engine with.
"""
from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

TARGET = {"poverty_alleviated", "monitored", "relocated"}
SUBSIDISED = {"poverty_alleviated", "monitored"}
LISTED_REASONS = {"training", "epidemic", "order_adjustment"}
MIN_WAGE = [(dt.date(2021, 10, 1), {1: 1880, 2: 1760, 3: 1630}),
            (dt.date(2023, 1, 1), {1: 1980, 2: 1880, 3: 1780}),
            (dt.date(2025, 1, 1), {1: 2150, 2: 2050, 3: 1950})]
AVERAGE_WAGE = {2020: 77364, 2021: 84938}
RETIREMENT_AGE = {"male": 60, "female": 50}


def _round(x: Fraction) -> Decimal:
    sign = -1 if x < 0 else 1
    scaled = abs(x) * 100
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return (Decimal(sign * whole) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def F(x) -> Fraction:
    return Fraction(str(x))


def plus_years(d: dt.date, n: int) -> dt.date:
    y = d.year + n
    if d.month == 2 and d.day == 29 and not calendar.isleap(y):
        return dt.date(y, 2, 28)
    return d.replace(year=y)


def month_first(text: str) -> dt.date:
    y, m = text.split("-")
    return dt.date(int(y), int(m), 1)


def period_months(start: dt.date, end: dt.date):
    y, m = start.year, start.month
    out = []
    while True:
        first = dt.date(y, m, 1)
        if first > end:
            return out
        if first >= start:
            out.append(first)
        m += 1
        if m == 13:
            y, m = y + 1, 1


def min_wage(day: dt.date, area: int) -> int:
    value = None
    for since, table in MIN_WAGE:
        if since <= day:
            value = table[area]
    assert value is not None, day
    return value


def decide(facts: dict) -> list:
    """Decisions as tuples (workshop, worker, loan, clause, outcome, amount or None)."""
    start, end = facts["period"]["start"], facts["period"]["end"]
    out = []
    for ws in facts.get("workshops", []):
        wid = ws["id"]
        workers = ws.get("workers", [])
        headcount = ws.get("headcount", len(workers))
        cats = lambda w: set(w["categories"])
        tp = sum(1 for w in workers if cats(w) & TARGET and w.get("role", "production") == "production")
        subs = sum(1 for w in workers if cats(w) & SUBSIDISED)
        site = ws.get("site", {})
        public = any(site.get(k, False) for k in ("government_invested", "collective_free_use", "integrated_agri_funds"))
        prod = ws.get("production", {})
        revoked = (prod.get("halted_months", 0) > 3 and prod.get("recovery_failed", False)) \
            or ws.get("months_below_standard", 0) >= 6
        li = ws["entity_type"] == "labor_intensive_enterprise"
        c31 = not li and tp >= 5 and (not public or Fraction(tp, headcount) >= Fraction(60, 100))
        c35 = li and headcount >= 1000 and Fraction(subs, headcount) >= Fraction(30, 100)
        certified = False
        if revoked:
            out.append((wid, None, None, "4.4", "revoked", None))
        elif c31:
            out.append((wid, None, None, "3.1", "certified", None))
            certified = True
        elif c35:
            out.append((wid, None, None, "3.5", "certified", None))
            certified = True

        def in_period_months(w):
            return sorted((m for m in w.get("months", []) if start <= month_first(m["month"]) <= end),
                          key=lambda m: m["month"])

        for w in workers:
            if any(m.get("wage_arrears", False) for m in in_period_months(w)):
                out.append((wid, w["id"], None, "4.3", "alert", None))
        if not certified:
            continue
        out.append((wid, None, None, "3.9", "discretionary", None))
        hires = []
        for w in workers:
            if not cats(w) & SUBSIDISED:
                continue
            hist = w.get("history", {})
            months = in_period_months(w)
            if start <= w["hired_on"] <= end and not hist.get("one_time_subsidy_paid", False):
                hires.append((w["id"], Decimal(1500 if w["hired_on"] >= dt.date(2022, 6, 27) else 1200).quantize(Decimal("0.01"))))
            contract = w.get("contract_months", 0)
            if contract >= 6 and months:
                out.append((wid, w["id"], None, "3.3", "granted", Decimal(200 * len(months)).quantize(Decimal("0.01"))))
            top_up = Decimal("0.00")
            for m in months:
                half = Fraction(min_wage(month_first(m["month"]), ws["wage_area"]), 2)
                if m.get("shortfall_reason") in LISTED_REASONS and m.get("income") is not None and F(m["income"]) < half:
                    top_up += _round(half - F(m["income"]))
            if top_up > 0:
                out.append((wid, w["id"], None, "3.4", "granted", top_up))
            tr = w.get("training", {})
            done = tr.get("completed_on")
            if tr.get("pre_job") and tr.get("real_name_registered") and done and start <= done <= end \
                    and not hist.get("training_subsidy_paid", False):
                out.append((wid, w["id"], None, "3.7", "granted", Decimal("1000.00")))
            if contract >= 12:
                age = w.get("retirement_age") or RETIREMENT_AGE[w["sex"]]
                retire = plus_years(w["birth_date"], age)
                near = plus_years(w["hired_on"], 5) > retire
                paid = [m for m in months if m.get("social_insurance", {}).get("fully_paid", False)]
                if near:
                    window = [m for m in paid if month_first(m["month"]) < retire]
                else:
                    window = paid[:max(0, 36 - hist.get("si_subsidy_months", 0))]
                total = Decimal("0.00")
                for m in window:
                    si = m["social_insurance"]
                    year = month_first(m["month"]).year - 1
                    cap = Fraction(60, 100) * AVERAGE_WAGE[year] / 12
                    total += _round(F(si["employer_paid"]) * min(Fraction(1), cap / F(si["base"])))
                if total > 0:
                    out.append((wid, w["id"], None, "3.8", "granted", total))
        award = Decimal(0)
        if ws.get("base_recognized", False):
            tier = 250000 if subs >= 100 else 100000 if subs >= 50 else 50000 if subs >= 30 else 0
            if tier:
                award = Decimal(tier) - Decimal(str(ws.get("history", {}).get("award_paid", 0)))
        hire_total = sum((a for _, a in hires), Decimal(0))
        award_wins = award > 0 and (not hires or award >= hire_total)
        if award > 0:
            out.append((wid, None, None, "3.5", "granted" if award_wins else "suppressed", award.quantize(Decimal("0.01"))))
        for worker_id, amount in hires:
            out.append((wid, worker_id, None, "3.2", "suppressed" if award_wins else "granted", amount))
        for loan in ws.get("loans", []):
            if loan["type"] == "equipment":
                out.append((wid, None, loan["id"], "3.6", "discretionary", None))
                continue
            total = Decimal("0.00")
            for first in period_months(start, end):
                n = (first.year - loan["start"].year) * 12 + first.month - loan["start"].month
                if 0 <= n < 24:
                    total += _round(min(F(loan["principal"]), Fraction(3000000)) * F(loan["annual_rate"]) / 12)
            if total > 0:
                out.append((wid, None, loan["id"], "3.6", "granted", total))
    return out
