"""Generate realistic facts for the Shanxi policy at any size, seeded and reproducible.

By default the province's 2022 target: 2,000 workshops, 30,000 target workers, a year of months
(2022-07 to 2023-06). Every clause is in play: workshops around the certification thresholds, public
sites, bases of 30/50/100 subsidised workers (some already paid an award), enterprises of every size,
labour-intensive firms, workshops certified before the period (a stated certification, on the general
or the labour-intensive route) and some of them revoked before it, revocations by 4.4, loans, training,
shortfalls, arrears, workers who leave during the year, workers near retirement (born around the
2025 reform's first delayed months).

The facts follow the contract of the semantics note (revised 2026-11-28): a worker's month entries run
from the month of `hired_on` to the month of `left_on`, never outside them; an enterprise states its
size; a stated certification names its route and is dated before the period, a stated revocation too.

The policy has the provincial average wage for 2020 and 2021 only (no 2022 figure is given), so
social insurance is mostly marked fully paid in 2022's months only; for a few workers 2023's months
are fully paid too, and their 3.8 decisions are `pending` until the 2022 figure is added.

    python bench/generate.py -o province.json                 # the province target
    python bench/generate.py --workshops 200 --workers 3000 -o county.yaml
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys

CITIES = {"太原市": ["娄烦县", "阳曲县"], "忻州市": ["岢岚县", "静乐县", "五寨县"], "吕梁市": ["临县", "兴县", "石楼县"],
          "临汾市": ["吉县", "大宁县", "永和县"], "大同市": ["天镇县", "广灵县"], "运城市": ["盐湖区", "平陆县"]}
MONTHS = [f"{y}-{m:02d}" for y, m in [(2022, m) for m in range(7, 13)] + [(2023, m) for m in range(1, 7)]]
#: the period of each length the generator writes: a year (the default) or its first half
PERIODS = {12: ("2022-07-01", "2023-06-30"), 6: ("2022-07-01", "2022-12-31")}
HALF = {1: 940, 2: 880, 3: 815}


def _worker(rng: random.Random, wid: str, area: int, target: bool, base: bool = False, months_in: int = 12) -> dict:
    # a base (就业帮扶基地) is recognised for its many 脱贫户 and 监测户: mostly subsidised workers there
    weights = [4, 4, 1, 1] if base else [1, 1, 1, 1]
    categories = (rng.choices([["poverty_alleviated"], ["monitored"], ["relocated"], ["poverty_alleviated", "relocated"]],
                              weights)[0] if target else [])
    sex = rng.choice(["male", "female"])
    near = rng.random() < 0.08
    age = 60 if sex == "male" else 50
    birth = (dt.date(2022 - age + rng.randint(1, 4), rng.randint(1, 12), rng.randint(1, 28)) if near
             else dt.date(rng.randint(1970, 2002), rng.randint(1, 12), rng.randint(1, 28)))
    last = dt.date.fromisoformat(PERIODS[months_in][1])
    hired = dt.date(rng.choice([2019, 2020, 2021, 2022, 2022, 2023]), rng.randint(1, 12), rng.randint(1, 28))
    if hired > last.replace(day=1):
        hired = last.replace(day=1)
    left = None
    if rng.random() < 0.04:  # leaves during the period: month entries stop at the month of left_on
        left = max(hired, dt.date(rng.choice([2022, 2023]), rng.randint(1, 12), rng.randint(1, 28)))
        if left > last:
            left = None
    w = {"id": wid, "categories": categories, "role": rng.choices(["production", "management", "technical"], [90, 5, 5])[0],
         "sex": sex, "birth_date": birth.isoformat(), "hired_on": hired.isoformat(),
         "contract_months": rng.choice([0, 3, 6, 12, 12, 24, 36])}
    if left is not None:
        w["left_on"] = left.isoformat()
    if rng.random() < 0.2:
        w["training"] = {"pre_job": True, "real_name_registered": rng.random() < 0.8,
                         "completed_on": max(hired, dt.date(2022, 7, 1)).isoformat()}
    if rng.random() < 0.15:
        w["history"] = {"one_time_subsidy_paid": rng.random() < 0.5, "si_subsidy_months": rng.choice([0, 12, 30, 34])}
    months = []
    paid_in_2023 = rng.random() < 0.05  # 3.8 for these months waits for 2022's average wage: pending
    for month in MONTHS[:months_in]:
        if month < hired.isoformat()[:7] or (left is not None and month > left.isoformat()[:7]):
            continue
        entry = {"month": month, "income": str(rng.randint(1800, 4500))}
        if rng.random() < 0.05:
            entry["income"] = str(HALF[area] - rng.randint(1, 400))
            entry["shortfall_reason"] = rng.choice(["training", "epidemic", "order_adjustment", "other"])
        if rng.random() < 0.01:
            entry["wage_arrears"] = True
        base = rng.choice([3000, 3800, 4500, 5200])
        entry["social_insurance"] = {"base": base, "employer_paid": f"{base * 0.28:.2f}",
                                     "fully_paid": (month < "2023-01" or paid_in_2023) and rng.random() < 0.9}
        months.append(entry)
    w["months"] = months
    return w


def workshop(rng: random.Random, n: int, workers: int, months: int = 12) -> dict:
    city = rng.choice(sorted(CITIES))
    area = rng.choice([1, 2, 3, 3])
    ws = {"id": f"WS-{n:05d}", "name": f"帮扶车间{n}", "city": city, "county": rng.choice(CITIES[city]), "wage_area": area,
          "entity_type": rng.choice(["enterprise", "enterprise", "cooperative", "individual_business", "other"])}
    base = workers >= 30  # a candidate 就业帮扶基地: a small business, so that 3.1 can certify it
    if ws["entity_type"] == "enterprise":
        ws["enterprise_size"] = rng.choices(["micro", "small", "medium", "large"], [50, 35, 0, 0] if base else [50, 35, 10, 5])[0]
        if ws["enterprise_size"] != "micro" and rng.random() < 0.3:
            ws["labour_intensive"] = True
    kind = rng.random()
    if kind < 0.03:
        ws["production"] = {"halted_months": rng.choice([3, 4, 5]), "recovery_failed": True}
    elif kind < 0.05:
        ws["months_below_standard"] = rng.choice([5, 6, 7])
    # a certification made before the period (4.4 can only revoke such a workshop), now and then revoked
    # before the period too; the others are decided by 3.1 / 3.5(b) in this evaluation
    if kind < 0.05 or rng.random() < 0.35:
        route = "labour_intensive" if ws.get("labour_intensive") and rng.random() < 0.5 else "general"
        on = dt.date(rng.choice([2020, 2021, 2022]), rng.randint(1, 6), rng.randint(1, 28))
        ws["certification"] = {"on": on.isoformat(), "route": route}
        if kind >= 0.05 and rng.random() < 0.05:
            ws["revocation"] = {"on": dt.date(2022, rng.randint(on.month, 6), 28).isoformat()}
    if rng.random() < 0.15:
        ws["site"] = {"government_invested": True}
    if base and rng.random() < 0.7:
        ws["base_recognized"] = True
        if "certification" in ws and rng.random() < 0.3:  # paid the first tier in an earlier period
            ws["history"] = {"award_paid": 50000, "hiring_subsidies_paid": 0}
    target = max(0, workers - rng.randint(0, 2))
    ws["workers"] = [_worker(rng, f"{ws['id']}-{i:03d}", area, i < target, base, months) for i in range(workers)]
    ws["headcount"] = workers + (rng.randint(0, 3) if "site" in ws else 0)
    if rng.random() < 0.2:
        ws["loans"] = [{"id": "L-1", "type": rng.choice(["startup_guarantee", "startup_guarantee", "equipment"]),
                        "principal": str(rng.choice([500000, 1000000, 3000000, 4000000])),
                        "annual_rate": rng.choice(["0.0385", "0.0435"]),
                        "start": f"{rng.choice([2021, 2022, 2023])}-{rng.randint(1, 12):02d}-01"}]
    return ws


def sizes(rng: random.Random, workshops: int, workers: int):
    """Worker counts per workshop that add up to ``workers``: mostly 5-20, a few bases of 30-120."""
    counts = [rng.choice([4, 5, 6, 8, 10, 12, 15, 18, 20]) for _ in range(workshops)]
    for i in rng.sample(range(workshops), max(1, workshops // 40)):
        counts[i] = rng.choice([29, 30, 45, 50, 80, 100, 120])
    scale = workers / sum(counts)
    counts = [max(1, round(c * scale)) for c in counts]
    counts[-1] = max(1, counts[-1] + workers - sum(counts))
    return counts


def generate(workshops: int = 2000, workers: int = 30000, seed: int = 2022, months: int = 12):
    rng = random.Random(seed)
    for n, count in enumerate(sizes(rng, workshops, workers)):
        yield workshop(rng, n + 1, count, months)


def write(out, workshops: int, workers: int, seed: int, months: int = 12) -> None:
    """Write the facts as JSON, one workshop at a time (``months``: 12, a year from 2022-07, or 6, its first half)."""
    start, end = PERIODS[months]
    out.write(f'{{"period": {{"start": "{start}", "end": "{end}"}},\n "workshops": [\n')
    for n, ws in enumerate(generate(workshops, workers, seed, months)):
        out.write((",\n" if n else "") + json.dumps(ws, ensure_ascii=False, separators=(",", ":")))
    out.write("\n]}\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workshops", type=int, default=2000, help="workshops (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=30000,
                        help="workers in all, shared among the workshops (default: %(default)s; the province "
                             "size the benchmark uses is 54600 over 2000 workshops)")
    parser.add_argument("--seed", type=int, default=2022, help="random seed (default: %(default)s)")
    parser.add_argument("--months", type=int, choices=sorted(PERIODS), default=12,
                        help="12: the year 2022-07 to 2023-06 (the default; some of its 2023 decisions are pending: they "
                             "wait for a parameter value the policy does not have yet); 6: its first half")
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            write(fh, args.workshops, args.workers, args.seed, args.months)
    else:
        write(sys.stdout, args.workshops, args.workers, args.seed, args.months)


if __name__ == "__main__":
    main()
