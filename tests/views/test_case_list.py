"""The case list: scoped search and filters, paging; who may use it."""

from __future__ import annotations

from tests.conftest import login
from tests.views import support


def _more_cases(world) -> None:
    support.open_case(world.student2, counselor_id=world.counselor2.id, risk="orange",
                      category="at_risk")
    support.open_case(world.student3, counselor_id=world.counselor3.id, risk="yellow")


def test_student_affairs_sees_all_and_filters(client, world):
    _more_cases(world)
    login(client, "affairs")
    html = client.get("/cases").get_data(as_text=True)
    assert all(name in html for name in ("张三", "李四", "王五"))
    only = client.get(f"/cases?college={world.college2.id}").get_data(as_text=True)
    assert "王五" in only and "张三" not in only
    risk = client.get("/cases?risk=orange&category=at_risk").get_data(as_text=True)
    assert "李四" in risk and "张三" not in risk
    assert "张三" in client.get("/cases?q=2024000101").get_data(as_text=True)
    assert "张三" in client.get("/cases?q=张").get_data(as_text=True)
    assert "没有符合条件的案件" in client.get("/cases?state=closed").get_data(as_text=True)


def test_search_text_with_sql_metacharacters(client, world):
    login(client, "affairs")
    for text in ("%", "_", "' OR 1=1 --", "\\", '"><script>'):
        page = client.get("/cases", query_string={"q": text})
        assert page.status_code == 200
        assert "张三" not in page.get_data(as_text=True)


def test_date_range(client, world):
    login(client, "leader")
    assert "张三" in client.get("/cases?from=2000-01-01").get_data(as_text=True)
    assert "张三" not in client.get("/cases?to=2000-01-01").get_data(as_text=True)
    assert client.get("/cases?from=bad&to=").status_code == 200


def test_college_officer_sees_only_their_college(client, world):
    _more_cases(world)
    login(client, "officer2")
    html = client.get("/cases").get_data(as_text=True)
    assert "王五" in html and "张三" not in html and "李四" not in html


def test_admin_without_case_role_may_not(client, world):
    login(client, "admin")
    assert client.get("/cases").status_code == 403
