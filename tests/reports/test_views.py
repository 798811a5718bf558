"""The report screens: well-formed, escaped, scoped; every figure links to its cases."""

from __future__ import annotations

import re

from caseflow import clock
from caseflow.db import db
from caseflow.models import Student
from tests.conftest import login
from tests.reports.conftest import NOW
from tests.views.test_html_quality import XSS, check

KEY = "two_weeks:2025-09-15"


def test_every_report_screen_is_well_formed_and_escapes_user_text(school, client):
    clock.advance(NOW - clock.now())
    student = db.session.get(Student, school.s[1].id)
    student.name = XSS
    db.session.commit()
    login(client, "affairs")
    for url in ("/reports", f"/reports?p={KEY}", "/reports?kind=month&day=2025-09-10",
                "/reports?kind=custom&from=2025-09-01&to=2025-09-30&college=1",
                f"/reports/cases?p={KEY}&cat=counted", f"/reports/cases?p={KEY}&flag=overdue",
                f"/reports/brief/{school.college1.id}?p={KEY}", f"/reports?p={KEY}&lang=en"):
        answer = client.get(url)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200, url
        check(text)
        assert "<script>alert" not in text and "<img src=x" not in text, url


def test_dashboard_links_lead_to_the_same_counts(school, client):
    clock.advance(NOW - clock.now())
    login(client, "leader")
    page = client.get(f"/reports?p={KEY}").get_data(as_text=True)
    assert "零发案" in page or "Zero cases" in page
    links = re.findall(r'<a href="(/reports/cases\?[^"]+)">([^<]+)</a>', page)
    assert len(links) > 30
    for href, shown in links:
        if not shown.isdigit():
            continue
        listed = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        total = re.search(r"<small>[^<(]*\((\d+)\)</small>", listed)
        assert total, href
        if "flag=overdue" in href:  # overdue counts tasks; the list shows their cases
            assert 0 < int(total.group(1)) <= int(shown) or shown == "0", href
        else:
            assert total.group(1) == shown, (href, shown)


def test_a_counselor_sees_their_classes_only_and_no_audit_exports(school, client):
    clock.advance(NOW - clock.now())
    login(client, "counselor2")
    page = client.get(f"/reports?p={KEY}").get_data(as_text=True)
    assert "信息工程学院" in page and "经济管理学院" not in page
    assert "/reports/audit.csv" not in page
    assert client.get(f"/reports/brief/{school.college1.id}?p={KEY}").status_code == 404


def test_people_without_reports_are_refused(school, client):
    login(client, "psych")
    assert client.get("/reports").status_code == 403
    login(client, "admin")
    assert client.get(f"/reports/cases?p={KEY}").status_code == 403
