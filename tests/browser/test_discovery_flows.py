"""Discovery in a real browser: a police warning reached by the counselor, a bad warning
entry, a class screening sheet downloaded, filled and uploaded (good and bad), and a
screening round started by the lead office."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from caseflow import audit, clock, forms
from caseflow.db import db
from caseflow.models import (
    Case,
    PoliceWarning,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    TaskRow,
)
from caseflow.services import screening
from tests import factories
from tests.browser.test_flows import sign_in


@pytest.fixture
def school(app):
    """The test organisation with the processes deployed, phones and ID cards, a namesake
    of 张三 in another class, and three more students in 张三's class."""
    ns = factories.warning_org()
    ns.more = [factories.student(f"20240001{n:02d}", f"学生{n}", ns.class1, phone=None,
                                 id_card=None) for n in range(2, 5)]
    db.session.commit()
    return ns


def minutes_ago(*minutes: int) -> list[str]:
    """Return local times so many whole minutes back, as a datetime-local input takes them.

    All are counted from the start of this minute, so they differ by exactly their minutes.
    """
    start = clock.now().replace(second=0, microsecond=0)
    return [forms.shown(start - timedelta(minutes=n)) for n in minutes]


def reload(model, **where):
    db.session.expire_all()
    return db.session.scalar(select(model).filter_by(**where))


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(model.id)))


# -- police warnings -----------------------------------------------------------------------

def test_a_named_warning_is_picked_reached_by_the_counselor_and_listed(new_page, school):
    warned_at, reached_at, paid_at = minutes_ago(45, 15, 50)
    office = new_page()
    sign_in(office, "security")
    office.get_by_role("navigation").get_by_role("link", name="预警").click()
    office.get_by_role("link", name="登记预警").click()
    office.get_by_label("姓名", exact=True).fill("张三")
    office.get_by_label("预警时间").fill(warned_at)
    office.get_by_label("诈骗类型").select_option(label="投资理财")
    office.get_by_label("较急").check()
    office.get_by_label("预警编号").fill("JQ-2024-88")
    office.get_by_label("预警内容").fill("疑似向陌生账户转账")
    office.get_by_role("button", name="登记预警").click()
    office.wait_for_url(re.compile(r"/warnings/\d+$"))
    assert "可能涉及多名学生" in office.locator(".flash").inner_text()

    office.get_by_role("link", name="返回预警列表").click()
    waiting = office.locator("#h-waiting + table tbody tr")
    assert waiting.count() == 1
    assert "张三" in waiting.inner_text() and "2 名候选" in waiting.inner_text()
    waiting.get_by_role("link").click()
    candidates = office.locator("#h-candidates ~ table tbody tr")
    assert candidates.count() == 2
    right = candidates.filter(has_text="2024000101")
    assert "软件2401班" in right.inner_text()
    button = right.get_by_role("button", name="张三 2024000101 就是该学生")
    assert button.inner_text() == "这就是该学生"
    button.click()
    office.wait_for_url(re.compile(r"/warnings/\d+$"))
    assert "已匹配到 张三" in office.locator(".flash").inner_text()
    assert office.locator("#h-candidates").count() == 0

    counselor = new_page()
    sign_in(counselor, "counselor1")
    counselor.get_by_role("link", name="见面劝阻（辅导员）").click()
    counselor.wait_for_url(re.compile(r"/tasks/\d+$"))
    counselor.get_by_label("见到学生的时间").fill(reached_at)
    counselor.get_by_label("当面").check()
    counselor.get_by_role("group", name="是否劝阻成功").get_by_label("否").check()
    counselor.get_by_label("是否已转账").check()
    counselor.get_by_label("已转账金额（元）").fill("3000")
    counselor.get_by_label("最后一次转账时间").fill(paid_at)
    counselor.get_by_label("劝阻经过").fill("学生已向“理财导师”转账 3000 元，已劝其停止")
    counselor.get_by_role("button", name="提交完成").click()
    counselor.wait_for_url(re.compile(r"/$"))
    assert "任务已完成" in counselor.locator(".flash").inner_text()
    assert counselor.get_by_role("link", name="见面劝阻（辅导员）").count() == 0

    office.get_by_role("link", name="返回预警列表").click()
    assert "所有预警均已确定学生" in office.locator("#h-waiting ~ p").first.inner_text()
    row = office.locator("#h-matched + table tbody tr")
    text = row.inner_text()
    assert row.count() == 1 and "张三" in text and "已见到学生" in text
    assert "用时 30 分钟" in text and "未劝阻" in text
    warning = reload(PoliceWarning)
    assert (warning.state, warning.minutes_to_reach) == ("reached", 30)
    assert reload(Case, student_id=school.student1.id).category == "victim"


def test_a_bad_warning_shows_the_field_errors_and_keeps_what_was_typed(new_page, school):
    future, past = minutes_ago(-90, 10)  # 90 min ahead; 10 min back
    page = new_page()
    sign_in(page, "security")
    page.goto("/warnings/new")
    page.get_by_label("预警时间").fill(future)
    page.get_by_label("诈骗类型").select_option(label="冒充公检法")
    page.get_by_label("预警编号").fill("JQ-BAD-1")
    page.get_by_label("预警内容").fill("民警电话通知")
    page.get_by_role("button", name="登记预警").click()
    assert "请更正下方标出的字段" in page.locator("#error-summary").inner_text()
    assert "不能晚于当前时间" in page.locator("#f-warned_at-msg").inner_text()
    assert page.get_by_label("预警时间").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("预警时间").input_value() == future
    # every problem at once: the missing identity is reported beside the time
    assert "请至少填写手机号码、身份证号或姓名之一" in page.locator("#f-phone-msg").inner_text()
    page.get_by_label("预警时间").fill(past)
    page.get_by_role("button", name="登记预警").click()
    summary = page.locator("#error-summary").inner_text()
    assert "不能晚于当前时间" not in summary
    assert "请至少填写手机号码、身份证号或姓名之一" in page.locator("#f-phone-msg").inner_text()
    assert page.get_by_label("手机号码").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("预警时间").input_value() == past
    assert page.get_by_label("诈骗类型").input_value() == "fake_authority"
    assert page.get_by_label("预警编号").input_value() == "JQ-BAD-1"
    assert page.get_by_label("预警内容").input_value() == "民警电话通知"
    assert count(PoliceWarning) == 0


# -- class screening -----------------------------------------------------------------------

def start_round(school) -> ScreeningClass:
    user = school.affairs
    screening.start_round(user, audit.Actor(user.id, user.username, "student_affairs"))
    return db.session.scalar(select(ScreeningClass).where(
        ScreeningClass.class_id == school.class1.id))


def download_template(page, tmp_path):
    """Open the class screening task and download its .xlsx template; return the book."""
    page.get_by_role("link", name="班级摸排").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    with page.expect_download() as info:
        page.get_by_role("link", name="下载模板（.xlsx）").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".xlsx"
    return load_workbook(path), path


def upload(page, path) -> None:
    page.get_by_label("填好的摸排表（.xlsx 或 .csv）").set_input_files(path)
    page.get_by_role("button", name="上传并导入").click()


def test_a_counselor_fills_the_downloaded_template_and_uploads_it(new_page, school,
                                                                   tmp_path):
    start_round(school)
    page = new_page()
    sign_in(page, "counselor1")
    book, path = download_template(page, tmp_path)
    sheet, options = book["摸排"], book["选项"]
    fraud_types = [c.value for c in options["C"] if c.value]
    assert "刷单返利" in fraud_types
    students = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert students == ["2024000101", "2024000102", "2024000103", "2024000104"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "2024000101":
            row[2].value, row[3].value, row[4].value = "标记", "受骗", "刷单返利"
            row[5].value = "兼职刷单被骗 800 元"
        else:
            row[2].value = "谈话"
    book.save(path)
    upload(page, path)
    page.wait_for_url(re.compile(r"/$"))
    summary = " ".join(page.locator(".flash").all_inner_texts())
    assert "班级 K1 摸排已导入：谈话 3 人，标记 1 人，未能联系 0 人" in summary
    assert "新开个案：1" in summary
    assert page.get_by_role("link", name="班级摸排").count() == 0
    case = reload(Case, student_id=school.student1.id)
    assert (case.source, case.category) == ("screening", "victim")
    assert count(ScreeningEntry) == 4


def test_a_bad_sheet_lists_each_problem_and_takes_in_nothing(new_page, school, tmp_path):
    start_round(school)
    page = new_page()
    sign_in(page, "counselor1")
    book, path = download_template(page, tmp_path)
    sheet = book["摸排"]
    for row in sheet.iter_rows(min_row=2):
        row[2].value = "谈话"
    sheet.append(["9999999999", "无名", "谈话"])  # row 6
    sheet.append(["2024000102", "学生2", "谈话"])  # row 7, a second 2024000102 (row 3)
    book.save(path)
    upload(page, path)
    problems = page.locator("#problems")
    assert "未导入任何内容：发现 2 处问题" in problems.inner_text()
    rows = problems.locator("tbody tr")
    found = [[rows.nth(i).locator("td").nth(n).inner_text() for n in range(3)]
             for i in range(rows.count())]
    assert [r[:2] for r in found] == [["6", "学号"], ["7", "学号"]]
    assert "9999999999" in found[0][2] and "第 3 行" in found[1][2]
    assert (count(ScreeningEntry), count(Case)) == (0, 0)
    assert reload(ScreeningClass, class_id=school.class1.id).state == "open"
    assert reload(TaskRow, task_spec="screen_class", assignee_id=school.counselor1.id
                  ).state == "ready"


def test_the_lead_office_starts_a_round_and_sees_it_listed(new_page, school):
    page = new_page()
    sign_in(page, "affairs")
    page.goto("/screening?lang=en")
    assert "No round has been started yet." in page.locator("main").inner_text()
    page.get_by_label("Who is screened").select_option("all")
    page.get_by_label("College").select_option(label="信息工程学院")
    page.get_by_label("Days until due").fill("5")
    page.get_by_role("button", name="Start the round").click()
    page.wait_for_url(re.compile(r"/screening/\d+"))
    rnd = reload(ScreeningRound)
    assert rnd is not None and rnd.number in page.locator(".flash").inner_text()
    page.goto("/screening?lang=en")
    row = page.locator("table.list tbody tr")
    assert row.count() == 1
    text = row.inner_text()
    assert rnd.number in text and "信息工程学院" in text and "0 / 2" in text
