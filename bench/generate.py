"""Generate realistic facts for the Shanxi policy at any size, seeded and reproducible.

By default the province's 2022 target: 2,000 workshops, 30,000 target workers, a year of months
(2022-07 to 2023-06). Every clause is in play: workshops around the certification thresholds, public
sites, bases of 30/50/100 subsidised workers, labour-intensive firms, revocations, loans, training,
shortfalls, arrears, workers near retirement.

The policy has the provincial average wage for 2020 and 2021 only (no 2022 figure is given), so
social insurance is marked fully paid only in 2022's months: a 2023 month would need 2022's wage.

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
HALF = {1: 940, 2: 880, 3: 815}


def _worker(rng: random.Random, wid: str, area: int, target: bool) -> dict:
    categories = (rng.choice([["poverty_alleviated"], ["monitored"], ["relocated"], ["poverty_alleviated", "relocated"]])
                  if target else [])
    sex = rng.choice(["male", "female"])
    near = rng.random() < 0.08
    age = 60 if sex == "male" else 50
    birth = (dt.date(2022 - age + rng.randint(1, 4), rng.randint(1, 12), rng.randint(1, 28)) if near
             else dt.date(rng.randint(1970, 2002), rng.randint(1, 12), rng.randint(1, 28)))
    hired = dt.date(rng.choice([2019, 2020, 2021, 2022, 2022, 2023]), rng.randint(1, 12), rng.randint(1, 28))
    if hired > dt.date(2023, 6, 1):
        hired = dt.date(2023, 6, 1)
    w = {"id": wid, "categories": categories, "role": rng.choices(["production", "management", "technical"], [90, 5, 5])[0],
         "sex": sex, "birth_date": birth.isoformat(), "hired_on": hired.isoformat(),
         "contract_months": rng.choice([0, 3, 6, 12, 12, 24, 36])}
    if rng.random() < 0.2:
        w["training"] = {"pre_job": True, "real_name_registered": rng.random() < 0.8,
                         "completed_on": max(hired, dt.date(2022, 7, 1)).isoformat()}
    if rng.random() < 0.15:
        w["history"] = {"one_time_subsidy_paid": rng.random() < 0.5, "si_subsidy_months": rng.choice([0, 12, 30, 34])}
    months = []
    for month in MONTHS:
        if month < hired.isoformat()[:7]:
            continue
        entry = {"month": month, "income": str(rng.randint(1800, 4500))}
        if rng.random() < 0.05:
            entry["income"] = str(HALF[area] - rng.randint(1, 400))
            entry["shortfall_reason"] = rng.choice(["training", "epidemic", "order_adjustment", "other"])
        if rng.random() < 0.01:
            entry["wage_arrears"] = True
        base = rng.choice([3000, 3800, 4500, 5200])
        entry["social_insurance"] = {"base": base, "employer_paid": f"{base * 0.28:.2f}",
                                     "fully_paid": month < "2023-01" and rng.random() < 0.9}
        months.append(entry)
    w["months"] = months
    return w


def workshop(rng: random.Random, n: int, workers: int) -> dict:
    city = rng.choice(sorted(CITIES))
    area = rng.choice([1, 2, 3, 3])
    ws = {"id": f"WS-{n:05d}", "name": f"帮扶车间{n}", "city": city, "county": rng.choice(CITIES[city]), "wage_area": area,
          "entity_type": rng.choice(["micro_enterprise", "cooperative", "other"])}
    kind = rng.random()
    if kind < 0.03:
        ws["production"] = {"halted_months": rng.choice([3, 4, 5]), "recovery_failed": True}
    elif kind < 0.05:
        ws["months_below_standard"] = rng.choice([5, 6, 7])
    if rng.random() < 0.15:
        ws["site"] = {"government_invested": True}
    if workers >= 30 and rng.random() < 0.5:
        ws["base_recognized"] = True
    target = max(0, workers - rng.randint(0, 2))
    ws["workers"] = [_worker(rng, f"{ws['id']}-{i:03d}", area, i < target) for i in range(workers)]
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


def generate(workshops: int = 2000, workers: int = 30000, seed: int = 2022):
    rng = random.Random(seed)
    for n, count in enumerate(sizes(rng, workshops, workers)):
        yield workshop(rng, n + 1, count)


def write(out, workshops: int, workers: int, seed: int) -> None:
    """Write the facts as JSON, one workshop at a time."""
    out.write('{"period": {"start": "2022-07-01", "end": "2023-06-30"},\n "workshops": [\n')
    for n, ws in enumerate(generate(workshops, workers, seed)):
        out.write((",\n" if n else "") + json.dumps(ws, ensure_ascii=False, separators=(",", ":")))
    out.write("\n]}\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workshops", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            write(fh, args.workshops, args.workers, args.seed)
    else:
        write(sys.stdout, args.workshops, args.workers, args.seed)


if __name__ == "__main__":
    main()
