"""The visitor's own page: reading with the receipt, withdrawing and erasing, both confirmed first."""

from __future__ import annotations

import html
import re

import pytest

from server.storage import decisions as decision_log
from support import ORIGIN, decision

CONSENT_JS = "/static/privacy_center/consent.js"


def _text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


@pytest.fixture
def consent(client, published):
    response = client.post(
        "/api/v1/sites/shop/decisions", json=decision(), headers={"Origin": ORIGIN}
    )
    assert response.status_code == 201
    return response.get_json()


def rows(db, consent_id):
    return db.execute(
        "SELECT action FROM decisions WHERE consent_id = ? ORDER BY id", [consent_id]
    ).fetchall()


def test_page_without_receipt_offers_a_form_and_the_script(client, consent):
    page = client.get(f"/consents/{consent['consent_id']}?lang=en")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'<script src="{CONSENT_JS}" defer></script>' in body
    assert 'name="receipt"' in body and 'method="post"' in body
    assert "Google Analytics" not in body
    assert page.headers["Cache-Control"] == "no-store"
    with client.get(CONSENT_JS) as script:  # a static file: the response holds it open
        assert script.status_code == 200 and "#r=" in script.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_records_with_the_receipt(client, consent, lang):
    page = client.post(
        f"/consents/{consent['consent_id']}?lang={lang}", data={"receipt": consent["receipt"]}
    )
    assert page.status_code == 200
    text = _text(page)
    expected = {
        "ja": [
            "個別に選択",
            "分析: 同意",
            "広告: 拒否",
            "機能: 同意",
            "第1版の開示",
            "サンプルショップ",
            "同意を撤回する",
            "記録を消去する",
        ],
        "en": [
            "Custom choice",
            "Analytics: accepted",
            "Advertising: refused",
            "Functional: accepted",
            "Disclosure, revision 1",
            "Sample Shop",
            "Withdraw my consent",
            "Erase my records",
        ],
    }[lang]
    for item in expected:
        assert item in text, item
    assert consent["consent_id"] in text
    # In the banner's order (the revision's), not alphabetical.
    names = {
        "ja": ["必須", "機能", "分析", "広告"],
        "en": ["Necessary", "Functional", "Analytics", "Advertising"],
    }[lang]
    choices = text.split(expected[0], 1)[1]
    assert sorted(names, key=choices.index) == names
    assert ("株式会社サンプル" if lang == "ja" else "Sample Inc.") in text
    assert f'href="/sites/shop/disclosure?revision=1&amp;lang={lang}"' in page.get_data(
        as_text=True
    )
    assert page.headers["Cache-Control"] == "no-store"


def test_the_whole_link_can_be_pasted(client, consent):
    link = f"http://127.0.0.1:8000/consents/{consent['consent_id']}#r={consent['receipt']}"
    page = client.post(f"/consents/{consent['consent_id']}?lang=en", data={"receipt": link})
    assert page.status_code == 200 and "Custom choice" in _text(page)


@pytest.mark.parametrize("receipt", ["", "nonsense", "x" * 600])
def test_a_wrong_receipt_shows_nothing_but_a_message(client, consent, receipt):
    page = client.post(f"/consents/{consent['consent_id']}?lang=en", data={"receipt": receipt})
    assert page.status_code == 403
    text = _text(page)
    assert "does not belong to this consent id" in text
    assert "Google Analytics" not in text and "Custom choice" not in text


def test_another_consent_ids_receipt_is_refused(client, consent):
    other = client.post(
        "/api/v1/sites/shop/decisions", json=decision(), headers={"Origin": ORIGIN}
    ).get_json()
    page = client.post(
        f"/consents/{consent['consent_id']}?lang=ja",
        data={"receipt": other["receipt"], "do": "erase", "confirm": "yes"},
    )
    assert page.status_code == 403
    assert "受領証がこの同意IDのものではない" in _text(page)


def test_withdraw_confirms_first_then_records_a_withdrawal(client, db, consent):
    cid, receipt = consent["consent_id"], consent["receipt"]
    asked = client.post(f"/consents/{cid}?lang=en", data={"receipt": receipt, "do": "withdraw"})
    assert asked.status_code == 200
    assert "Withdraw your consent?" in _text(asked) and "Yes, withdraw" in _text(asked)
    assert rows(db, cid) == [("custom",)]
    done = client.post(
        f"/consents/{cid}?lang=en", data={"receipt": receipt, "do": "withdraw", "confirm": "yes"}
    )
    assert done.status_code == 200
    assert "Your consent was withdrawn." in _text(done)
    assert rows(db, cid) == [("custom",), ("withdraw",)]
    last = client.get(
        f"/api/v1/consents/{cid}", headers={"Authorization": f"Bearer {receipt}"}
    ).get_json()["decisions"][-1]
    assert last["action"] == "withdraw" and last["language"] == "en"
    assert last["categories"] == {
        "necessary": True,
        "functional": False,
        "analytics": False,
        "advertising": False,
    }
    assert not any(last["vendors"].values())
    assert "Withdrawn" in _text(done)


def test_erase_confirms_first_then_deletes(client, db, consent):
    cid, receipt = consent["consent_id"], consent["receipt"]
    asked = client.post(f"/consents/{cid}?lang=ja", data={"receipt": receipt, "do": "erase"})
    assert "記録を消去しますか？" in _text(asked) and "1件" in _text(asked)
    assert rows(db, cid) == [("custom",)]
    cancelled = client.post(f"/consents/{cid}?lang=ja", data={"receipt": receipt})
    assert "個別に選択" in _text(cancelled)
    done = client.post(
        f"/consents/{cid}?lang=ja", data={"receipt": receipt, "do": "erase", "confirm": "yes"}
    )
    assert done.status_code == 200
    text = _text(done)
    assert "1件の記録を消去しました。" in text
    assert "この同意IDの記録はありません。" in text
    assert "消去の記録" in text
    assert rows(db, cid) == []
    # What the admin export streams (e2e/test_privacy_center.py reads it over HTTP as well).
    assert [row for row in decision_log.export(db, "shop") if row["consent_id"] == cid] == []
    # Nothing left to withdraw: no new record appears.
    again = client.post(
        f"/consents/{cid}?lang=en", data={"receipt": receipt, "do": "withdraw", "confirm": "yes"}
    )
    assert "There is nothing to withdraw" in _text(again)
    assert rows(db, cid) == []
    # A reload of the erase answer re-sends it: no second erasure is recorded.
    client.post(
        f"/consents/{cid}?lang=en", data={"receipt": receipt, "do": "erase", "confirm": "yes"}
    )
    assert db.execute("SELECT COUNT(*) FROM erasures").fetchone()[0] == 1


def test_the_language_switch_keeps_the_receipt_in_a_post(client, consent):
    page = client.post(
        f"/consents/{consent['consent_id']}?lang=ja", data={"receipt": consent["receipt"]}
    ).get_data(as_text=True)
    switch = re.search(r'<nav class="langs".*?</nav>', page, re.S).group(0)
    assert f'action="/consents/{consent["consent_id"]}?lang=en"' in switch
    assert f'value="{consent["receipt"]}"' in switch
    assert "?r=" not in page and "receipt=" not in page
