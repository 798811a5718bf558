"""Sign-in messages, error pages, masking, and the generic form description."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

from caseflow import forms, masking
from tests import factories
from tests.conftest import csrf_token, login


def test_masks():
    assert masking.id_card("370102200501011233") == "3701**********1233"
    assert masking.phone("13800000000") == "138****0000"
    assert masking.account("6222020000001234") == "************1234"
    assert masking.phone(None) == "" and masking.phone("12") == "*2"


def test_sign_in_page_and_messages(client, app):
    factories.org()
    page = client.get("/tasks/1")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    html = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "请先登录再查看此页面" in html
    assert login(client, "counselor1").status_code == 302
    home = client.get("/").get_data(as_text=True)
    out = client.post("/logout", data={"csrf_token": csrf_token(home)}, follow_redirects=True)
    assert "您已退出登录" in out.get_data(as_text=True)


def test_error_pages_say_what_to_do(client, app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    factories.org()
    login(client, "counselor1")
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "返回我的工作" in page.get_data(as_text=True)
    assert client.get("/logout").status_code == 405
    broken = client.get("/boom")
    assert broken.status_code == 500 and "信息化中心" in broken.get_data(as_text=True)


def test_english_error_page(client, app):
    factories.org()
    login(client, "counselor1")
    assert "Not found" in client.get("/cases/999?lang=en").get_data(as_text=True)


class Sample(Schema):
    amount = fields.Decimal(load_default=Decimal("0.00"), validate=validate.Range(min=0),
                            metadata={"widget": "money", "label": {"zh": "金额", "en": "Amount"}})
    when = fields.AwareDateTime(required=True)
    reached = fields.Boolean(required=True, metadata={"widget": "radio"})
    tags = fields.List(fields.String(validate=validate.OneOf(["a", "b"])), load_default=list)
    name = fields.String(required=True, validate=validate.Length(min=1, max=5))


def test_describe_defaults_radio_booleans_and_translated_errors(app):
    with app.test_request_context("/"):
        described = {f.name: f for f in forms.describe(Sample(), "zh_CN")}
        assert described["amount"].value == "0.00" and described["amount"].label == "金额"
        assert described["reached"].choices == [("true", "是"), ("false", "否")]
        assert described["tags"].widget == "checkboxes"
        typed = MultiDict({"when": "2024-05-01T10:00", "name": "太长的名字啊", "amount": "-1"})
        typed.setlist("tags", ["a", "c"])
        raw = forms.raw_values(Sample(), typed)
        data = forms.to_load(Sample(), raw)
        assert data["when"] == "2024-05-01T10:00+08:00" and "reached" not in data
        try:
            Sample().load(data)
        except Exception as exc:  # marshmallow.ValidationError
            errors = forms.translate_errors(exc.normalized_messages(), "zh_CN")
        assert errors["reached"] == ["此项为必填项。"]
        assert errors["name"] == ["请填写 1 至 5 个字。"]
        assert errors["amount"] == ["不能小于 0。"]
        assert errors["tags"] == ["请从列出的选项中选择。"]
        assert forms.translate("give the reason", "zh_CN", {"give the reason": "请填写理由"}) \
            == "请填写理由"
        assert forms.translate("give the reason", "en") == "Give the reason."
