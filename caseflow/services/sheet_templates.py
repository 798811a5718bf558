"""The screening sheet caseflow hands out: a class's .xlsx or .csv template.

Every student in the round's scope is pre-listed under the exact columns `sheets` reads
back; the .xlsx adds drop-down choices, a filling-in guide, and keywords naming its class
and round (so `sheets.read` refuses a sheet meant for another class).
"""

from __future__ import annotations

import csv
import io

from caseflow.services.sheets import Roster, Vocab
from workflows.class_screening import CATEGORY_BY_LABEL, COLUMNS, SHEET_GUIDE, STATUS_BY_LABEL


def template_xlsx(roster: Roster, vocab: Vocab) -> bytes:
    """Return the .xlsx template of a class: every student in scope pre-listed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "摸排"
    sheet.append(list(COLUMNS))
    key = PatternFill("solid", fgColor="FFF2CC")
    for n, student in enumerate(roster.students, 2):
        sheet.append([student.student_no, student.name])
        sheet.cell(n, 1).number_format = "@"
        sheet.cell(n, 8).number_format = "yyyy-mm-dd"
        if student.key_group:
            sheet.cell(n, 6).fill = key
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGH", (14, 10, 10, 12, 22, 40, 20, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    lists = book.create_sheet("选项")
    choices = (list(STATUS_BY_LABEL), list(CATEGORY_BY_LABEL),
               [*vocab.fraud_labels, *vocab.behaviour_labels])
    for col, (letter, target, items) in enumerate(zip("ABC", "CDE", choices, strict=True), 1):
        for row, item in enumerate(items, 1):
            lists.cell(row, col, item)
        check = DataValidation(type="list", allow_blank=True,
                               formula1=f"'选项'!${letter}$1:${letter}${max(len(items), 1)}")
        sheet.add_data_validation(check)
        check.add(f"{target}2:{target}{len(roster.students) + 1}")
    lists.sheet_state = "hidden"
    guide = book.create_sheet("填写说明")
    guide.append([f"班级：{roster.class_name}（{roster.class_code}）  轮次：{roster.round_no}  "
                  f"截止：{roster.due}"])
    for line in SHEET_GUIDE:
        guide.append([line])
    book.properties.title = f"涉诈隐患摸排 {roster.round_no} {roster.class_code}"
    book.properties.keywords = f"caseflow-screening;round={roster.round_no};" \
                               f"class={roster.class_code}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv(roster: Roster) -> bytes:
    """Return the CSV template (UTF-8 with BOM, which Excel opens correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([s.student_no, s.name, "", "", "", "", "", ""] for s in roster.students)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
