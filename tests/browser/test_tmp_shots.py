import pytest

from caseflow.services import timers
from tests.browser.test_flows import _refer, sign_in

pytestmark = pytest.mark.usefixtures("world")
def test_shots(new_page, world, travel):
    _refer(world)
    travel.by(hours=3)
    timers.fire_due()
    for phone in (False, True):
        sfx = "phone" if phone else "desk"
        page = new_page(phone=phone)
        sign_in(page, "psych")
        page.screenshot(path=f"/tmp/shots/inbox-{sfx}.png", full_page=True)
        page.get_by_role("link", name="接收转介").click()
        page.get_by_role("button", name="提交完成").click()
        page.screenshot(path=f"/tmp/shots/task-{sfx}.png", full_page=True)
        p2 = new_page(phone=phone)
        sign_in(p2, "affairs")
        p2.goto(f"/cases/{world.case.id}")
        p2.screenshot(path=f"/tmp/shots/case-{sfx}.png", full_page=True)
        p2.goto("/notifications")
        p2.screenshot(path=f"/tmp/shots/notes-{sfx}.png", full_page=True)
        p2.goto("/cases")
        p2.screenshot(path=f"/tmp/shots/list-{sfx}.png", full_page=True)
        p2.goto(f"/cases/{world.case.id}/history")
        p2.pdf(path=f"/tmp/shots/print-{sfx}.pdf") if False else None
        p2.emulate_media(media="print")
        p2.screenshot(path=f"/tmp/shots/print-{sfx}.png", full_page=True)
