"""Exports a finance office opens: CSV (one row per decision) and an XLSX payout workbook.

Pure views over an evaluation. Column headers, sheet names, outcome and fund
names come from the policy file's labels (``settings.labels``), so a
province's fork brings its own words; codes stay in the machine-facing CSV.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Dict, List, Tuple

from .render import decision_id, money

CSV_COLUMNS = ("workshop", "city", "county", "worker", "loan", "clause", "rule", "outcome", "amount", "fund", "decision_id")


def _period(evaluation) -> str:
    return f"{evaluation.facts.period_start.isoformat()}/{evaluation.facts.period_end.isoformat()}"


def _places(evaluation) -> Dict[str, dict]:
    return {ws["id"]: ws for ws in evaluation.facts.workshops}


def to_csv(evaluation) -> str:
    """One row per decision, codes as they are: workshop, city, county, worker, clause, outcome, amount, fund, id."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    places = _places(evaluation)
    period = _period(evaluation)
    for d in evaluation.decisions:
        ws = places.get(d.workshop, {})
        amount = money(d.amount) if d.outcome in ("granted", "suppressed") else ""
        writer.writerow([d.workshop, ws.get("city", ""), ws.get("county", ""), d.worker or "", d.loan or "", d.clause,
                         d.rule, d.outcome, amount, d.fund or "", decision_id(evaluation.policy.sha256, period, d)])
    return out.getvalue()


def _col(policy, key: str, default: str) -> str:
    return policy.label(f"column.{key}", default)


def workbook(evaluation):
    """An openpyxl Workbook: payouts by workshop and worker, totals by fund, totals by county."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    policy = evaluation.policy
    places = _places(evaluation)
    period = _period(evaluation)
    granted = [d for d in evaluation.decisions if d.outcome == "granted" and d.amount is not None]
    money_format = "#,##0.00"
    bold = Font(bold=True)

    book = Workbook()
    sheet = book.active
    sheet.title = policy.label("sheet.payouts", "payouts")[:31]
    headers = [("workshop", "workshop"), ("workshop_name", "workshop name"), ("city", "city"), ("county", "county"),
               ("worker", "worker"), ("loan", "loan"), ("clause", "clause"), ("heading", "heading"),
               ("rule", "rule"), ("outcome", "outcome"), ("amount", "amount"), ("fund", "fund"), ("decision_id", "decision id")]
    sheet.append([_col(policy, key, default) for key, default in headers])
    for d in granted:
        ws = places.get(d.workshop, {})
        clause = policy.clauses.get(d.clause)
        rule = policy.rule(d.rule)
        sheet.append([d.workshop, ws.get("name", ""), ws.get("city", ""), ws.get("county", ""), d.worker or "",
                      d.loan or "", d.clause, clause.heading if clause else "", rule.label, policy.label(d.outcome),
                      d.amount, policy.label(d.fund) if d.fund else policy.label("none", "none"),
                      decision_id(policy.sha256, period, d)])
        sheet.cell(row=sheet.max_row, column=11).number_format = money_format
    total_row = sheet.max_row + 1
    sheet.cell(row=total_row, column=1, value=policy.label("total", "total")).font = bold
    cell = sheet.cell(row=total_row, column=11, value=f"=SUM(K2:K{total_row - 1})" if granted else 0)
    cell.number_format, cell.font = money_format, bold
    _widths(sheet, [12, 24, 10, 10, 10, 8, 8, 30, 24, 10, 14, 18, 22])

    by_fund = book.create_sheet(policy.label("sheet.by_fund", "by fund")[:31])
    by_fund.append([_col(policy, "fund", "fund"), _col(policy, "fund_code", "fund code"), _col(policy, "amount", "amount")])
    for fund, amount in evaluation.totals.by_funding_source.items():
        by_fund.append([policy.label(fund), fund, amount])
        by_fund.cell(row=by_fund.max_row, column=3).number_format = money_format
    by_fund.append([policy.label("total", "total"), "", evaluation.totals.granted])
    by_fund.cell(row=by_fund.max_row, column=3).number_format = money_format
    _widths(by_fund, [20, 26, 16])

    by_county = book.create_sheet(policy.label("sheet.by_county", "by county")[:31])
    by_county.append([_col(policy, "city", "city"), _col(policy, "county", "county"), _col(policy, "amount", "amount")])
    counties: Dict[Tuple[str, str], Decimal] = {}
    for d in granted:
        ws = places.get(d.workshop, {})
        key = (ws.get("city", ""), ws.get("county", ""))
        counties[key] = counties.get(key, Decimal("0.00")) + d.amount
    for (city, county), amount in sorted(counties.items()):
        by_county.append([city, county, amount])
        by_county.cell(row=by_county.max_row, column=3).number_format = money_format
    by_county.append([policy.label("total", "total"), "", evaluation.totals.granted])
    by_county.cell(row=by_county.max_row, column=3).number_format = money_format
    _widths(by_county, [14, 14, 16])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
    return book


def _widths(sheet, widths: List[int]) -> None:
    from openpyxl.utils import get_column_letter
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
