"""The whole visitor flow across origins: decide on a publisher page, open the receipt link from
the widget's preferences, see the decision on the privacy center, withdraw, erase, and find the
records gone from the database and from the admin export."""

from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import expect

from server.storage import accounts
from support import wait_for as support_wait_for


def wait_for(predicate):
    return support_wait_for(predicate, timeout=10.0)


def admin_export(live, site_key):
    db = live.db()
    try:
        token = accounts.create_token(db, "e2e-flow")
    finally:
        db.close()
    request = urllib.request.Request(
        f"{live.url}/api/v1/admin/sites/{site_key}/decisions?format=jsonl",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return [json.loads(line) for line in response.read().decode().splitlines()]


def test_decide_then_see_withdraw_and_erase_from_the_receipt_link(page, live, publisher):
    live.new_site("flow")
    page.goto(publisher.embed("flow"))
    page.get_by_role("button", name="Accept all").click()
    rows = wait_for(lambda: live.decisions("flow"))
    consent_id = rows[0]["consent_id"]
    assert rows[0]["action"] == "accept_all"
    # the receipt arrives with the answer and is kept with the choice
    wait_for(lambda: (page.evaluate("PrivacyCenter.getConsent()") or {}).get("consentId"))

    page.evaluate("PrivacyCenter.showPreferences()")
    prefs = page.get_by_role("dialog", name="Privacy preferences")
    expect(prefs).to_contain_text(consent_id)
    link = prefs.get_by_role("link", name="See or withdraw your recorded choices")
    with page.context.expect_page() as opened:
        link.click()
    records = opened.value
    records.wait_for_load_state()
    # the privacy center is another origin; the receipt travelled in the fragment only
    expect(records.locator("table.decisions tbody tr")).to_have_count(1)
    assert records.url.startswith(f"{live.url}/consents/{consent_id}")
    assert "#r=" not in records.url

    records.get_by_role("button", name="Withdraw my consent").click()
    records.get_by_role("button", name="Yes, withdraw", exact=True).click()
    expect(records.get_by_role("status")).to_contain_text("Your consent was withdrawn")
    assert [r["action"] for r in live.decisions("flow")] == ["accept_all", "withdraw"]
    assert all(
        not on for key, on in live.decisions("flow")[1]["categories"].items() if key != "necessary"
    )

    records.get_by_role("button", name="Erase my records").click()
    records.get_by_role("button", name="Yes, erase", exact=True).click()
    expect(records.get_by_role("status")).to_contain_text("2 records were erased")
    assert live.decisions("flow") == []
    assert [r for r in admin_export(live, "flow") if r["consent_id"] == consent_id] == []
