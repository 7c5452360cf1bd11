"""Recording decisions: the one path from a decision to a stored record and its receipt.

The public API (the widget's posts) and the visitor's own page (withdraw, erase) both come
through here, so the consent-id, receipt and erasure rules live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import decisions as rules
from ..storage import decisions as log
from ..storage import partitions
from ..storage import revisions as revision_store
from ..storage.engine import Database
from ..storage.schema import write
from ..storage.util import iso_to_ms, ms_to_iso, now_iso
from .errors import Conflict, Invalid, NotFound, Refused

Json = dict[str, Any]
RevisionLookup = Callable[[int], "Json | None"]


@dataclass(frozen=True)
class Visitor:
    """What the request says of the visitor; only a keyed hash of the address is stored."""

    user_agent: str | None = None
    remote_addr: str | None = None
    gpc: bool = False  # the Sec-GPC: 1 header
    region: str | None = None  # from the CDN's headers (server/regions.py), None when unknown
    # The keyed hash of remote_addr (rules.client_hash), when the caller has made it already.
    client_hash: str | None = None


def _invalid(error: rules.DecisionError) -> Invalid:
    return Invalid([str(error)], code="invalid_decision")


def check_receipt(secret: str, consent_id: str, receipt: object) -> str:
    """The site a receipt was issued for, if it is genuine and names `consent_id`."""
    site_key = rules.receipts(secret).check(receipt, consent_id)
    if site_key is None:
        raise Refused("bad_receipt", "This receipt does not belong to this consent id.")
    return site_key


def _consent_id(receipts: rules.Receipts, site_key: str, body: Json) -> tuple[str, bool]:
    """(consent id, is new): a new id for a first decision, else the body's, with its receipt."""
    consent_id = body.get("consent_id")
    if consent_id is None:
        return rules.new_consent_id(), True
    if not isinstance(consent_id, str) or not rules.CONSENT_ID.match(consent_id):
        raise Invalid(
            ["consent_id: must be a consent id from an earlier answer"], code="invalid_decision"
        )
    if receipts.check(body.get("receipt"), consent_id) != site_key:
        # Without this, anyone who saw a consent id could add to it and get its receipt.
        raise Refused(
            "bad_receipt",
            "receipt: a decision for an existing consent id must carry that consent id's receipt",
        )
    return consent_id, False


@dataclass(frozen=True)
class Pending:
    """A decision validated and ready to store: what `store` writes in a transaction."""

    site_key: str
    consent_id: str
    new: bool  # a first decision: a new consent id
    choice: rules.Choice
    user_agent: str | None
    client: str | None
    request_id: str | None
    fingerprint: str
    consent_hash: str
    receipts: rules.Receipts

    @property
    def locks(self) -> list[str]:
        """What the transaction that stores it must hold (storage/schema.py `write`)."""
        locks = [log.consent_lock(self.site_key, self.consent_id)]
        if self.request_id:
            locks.append(log.request_lock(self.site_key, self.request_id))
        return locks


def record(
    db: Database,
    secret: str,
    site_key: str,
    body: object,
    revision: RevisionLookup,
    visitor: Visitor,
) -> Json:
    """Validate a decision against the revision it names and store it: the 201 answer.

    `revision(number)` gives the site's published revision (None if there is none).
    """
    pending = prepare(db, secret, site_key, body, revision, visitor)
    with write(db, *pending.locks):
        answer = store(db, pending)
    return receipted(pending, answer)


def prepare(
    db: Database,
    secret: str,
    site_key: str,
    body: object,
    revision: RevisionLookup,
    visitor: Visitor,
) -> Pending:
    """Everything of recording a decision that needs no write: its checks, outside any lock.

    Raises the service's errors for a decision that can never be stored.
    """
    try:
        request_id = rules.request_id(body)
        number = rules.revision_number(body)
        content = revision(number)
        if content is None:
            raise rules.DecisionError("revision", f"site '{site_key}' has no revision {number}")
        choice = rules.validate(body, content, gpc_header=visitor.gpc, region=visitor.region)
    except rules.DecisionError as error:
        raise _invalid(error) from None
    assert isinstance(body, dict)  # revision_number() refused anything else
    receipts = rules.receipts(secret)  # one signer for the check and the new receipt
    consent_id, new = _consent_id(receipts, site_key, body)
    # PostgreSQL: the first decision of a new month (per process) makes sure of the next
    # months' partitions, outside the decision's transaction; a check of the clock otherwise.
    partitions.keep_ahead(db)
    return Pending(
        site_key=site_key,
        consent_id=consent_id,
        new=new,
        choice=choice,
        user_agent=visitor.user_agent,
        client=visitor.client_hash or rules.client_hash(secret, visitor.remote_addr),
        request_id=request_id,
        fingerprint=rules.fingerprint(body) if request_id else "",
        consent_hash="" if new else rules.consent_hash(secret, consent_id),
        receipts=receipts,
    )


def store(db: Database, pending: Pending) -> Json:
    """Write a prepared decision inside the open write transaction, which holds
    `pending.locks`: the answer without its receipt (`receipted` adds it).

    A replayed request_id writes nothing and gives the first answer again. Raises Refused for
    an erased consent id and Conflict for a request_id reused with another body; either way it
    has written nothing.
    """
    site_key, consent_id = pending.site_key, pending.consent_id
    if pending.request_id:
        # Looked up under the write lock: of two posts with one id, exactly one records.
        earlier = _earlier_answer(db, site_key, pending.request_id, pending.fingerprint)
        if earlier is not None:
            return earlier
    # Checked inside the write: an erasure cannot slip in between the check and the insert.
    if not pending.new and log.erasures(db, pending.consent_hash, site_key):
        # An erased consent id stays erased; the widget starts a new one on this answer.
        raise Refused(
            "bad_receipt",
            "receipt: this consent id's records were erased; decide again without it",
        )
    choice = pending.choice
    recorded_at = log.record(db, site_key, consent_id, choice, pending.user_agent, pending.client)
    answer = {
        "consent_id": consent_id,
        "revision": choice["revision"],
        "recorded_at": recorded_at,
        "categories": choice["categories"],
        "vendors": choice["vendors"],
        "gpc": choice["gpc"],
        "regime": choice["regime"],
        "region": choice["region"],
    }
    if pending.request_id:
        # Kept without the receipt: the database alone must not hand out erasure rights.
        log.remember_request(
            db, site_key, pending.request_id, pending.fingerprint, 201, answer, recorded_at
        )
    return answer


def receipted(pending: Pending, answer: Json) -> Json:
    """The 201 answer: `store`'s, with the receipt of its consent id."""
    return {**answer, "receipt": pending.receipts.issue(answer["consent_id"], pending.site_key)}


def _earlier_answer(db: Database, site_key: str, request_id: str, fingerprint: str) -> Json | None:
    """The first answer to this request_id within the window, or None; 409 for another body."""
    since = ms_to_iso(iso_to_ms(now_iso()) - rules.REQUEST_WINDOW_MS)
    found = log.find_request(db, site_key, request_id, since)
    if found is None:
        return None
    if found[0] != fingerprint:
        raise Conflict(
            "request_id_reused",
            "request_id: already used for a different decision on this site within 24 hours; "
            "send a new request_id with each new decision",
        )
    return found[2]


def withdrawal(revision: Json, lang: str) -> Json:
    """The body of a withdrawal for `revision`: every optional category refused."""
    content = revision["content"]
    body = {
        "revision": revision["number"],
        "action": "withdraw",
        "categories": {c["key"]: False for c in content["categories"] if not c["required"]},
    }
    if lang in content["site"]["languages"]:
        body["language"] = lang
    return body


def withdraw(
    db: Database,
    secret: str,
    site_key: str,
    consent_id: str,
    receipt: str,
    lang: str,
    visitor: Visitor,
) -> Json:
    """Record a withdrawal of everything optional under the site's latest revision."""
    latest = revision_store.get(db, site_key)
    if latest is None or not log.exists(db, consent_id, site_key):
        raise NotFound("decision", consent_id)
    body = {**withdrawal(latest, lang), "consent_id": consent_id, "receipt": receipt}
    return record(
        db, secret, site_key, body, lambda n: latest if n == latest["number"] else None, visitor
    )


def records(db: Database, secret: str, site_key: str, consent_id: str) -> Json:
    """A consent id's decisions and erasures, for the holder of its receipt."""
    return {
        "decisions": log.for_consent(db, consent_id, site_key),
        "erasures": log.erasures(db, rules.consent_hash(secret, consent_id), site_key),
    }


def erase(db: Database, secret: str, site_key: str, consent_id: str) -> int:
    """Delete a consent id's decisions, keeping only that (and when) they were erased.

    Erasing again erases nothing and leaves no second erasure record (a reload re-sends it).
    """
    with write(db, log.consent_lock(site_key, consent_id)):
        if not log.exists(db, consent_id, site_key):
            return 0
        return log.erase(db, consent_id, site_key, rules.consent_hash(secret, consent_id))
