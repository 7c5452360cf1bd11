"""Registry commands: vendors, sites, categories, assignments, the organization, publishing.

Every command edits the whole registry inside one write transaction (load, edit, validate the
whole, save with audit entries), so each rule below is checked exactly once, where nothing can
change under it, and a refused command saves nothing. Reads are targeted storage reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..registry import RegistryError
from ..revisions import content_hash
from ..storage import registry as store
from ..storage import revisions as revision_store
from ..storage.engine import Database
from ..storage.schema import write
from .errors import Conflict, Invalid, NotFound

Doc = dict[str, Any]  # a registry document, or one of its items


def _find(items: list[Doc], key: object, what: str, field: str = "key") -> tuple[int, Doc]:
    for index, item in enumerate(items):
        if item.get(field) == key:
            return index, item
    raise NotFound(what, key)


def _site(doc: Doc, site_key: str) -> tuple[int, Doc]:
    return _find(doc["sites"], site_key, "site")


def _change(db: Database, actor: str, mutate: Callable[[Doc], str]) -> Doc:
    """Run `mutate` on the registry in a write transaction; the registry after it, saved."""
    try:
        return store.change(db, mutate, actor)
    except RegistryError as error:
        raise Invalid(error.problems, error.prefix) from None


def _same_key(body: Doc, key: str, field: str = "key") -> Doc:
    if field in body and body[field] != key:
        raise Invalid([f"{field}: cannot be changed; create a new one instead"])
    return {**body, field: key}


def _position(position: object, largest: int) -> int | None:
    if position is None:
        return None
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= largest:
        raise Invalid([f"position: must be a whole number from 0 to {largest}"])
    return position


# Rules about what is stored, each in one place.


def _refuse_if_published(db: Database, site_key: str) -> None:
    if revision_store.latest_number(db, site_key) is not None:
        raise Conflict(
            "published",
            f"Site '{site_key}' has published revisions and cannot be deleted; "
            "its consent log must stay provable.",
            what="site",
            key=site_key,
        )


def _refuse_if_vendor_used(doc: Doc, vendor_key: str) -> None:
    users = [s["key"] for s in doc["sites"] if any(a["vendor"] == vendor_key for a in s["vendors"])]
    if users:
        raise Conflict(
            "in_use",
            f"Vendor '{vendor_key}' is still assigned to site(s) {', '.join(users)}; "
            "remove it from them first.",
            what="vendor",
            key=vendor_key,
            sites=users,
        )


def _refuse_if_category_used(site: Doc, category_key: str) -> None:
    used = [a["vendor"] for a in site["vendors"] if a["category"] == category_key]
    if used:
        raise Conflict(
            "in_use",
            f"Category '{category_key}' still holds vendor(s) {', '.join(used)}; "
            "move or remove them first.",
            what="category",
            key=category_key,
            vendors=used,
        )


def _refuse_duplicate(
    items: list[Doc], key: object, what: str, message: str, field: str = "key"
) -> None:
    if any(item.get(field) == key for item in items):
        raise Conflict("exists", message, field=field, what=what, key=key)


# Reads


def get_vendor(db: Database, vendor_key: str) -> Doc:
    vendor = store.get_vendor(db, vendor_key)
    if vendor is None:
        raise NotFound("vendor", vendor_key)
    return vendor


def list_vendors(db: Database, query: str = "") -> list[Doc]:
    query = query.strip().lower()
    return [
        v
        for v in store.list_vendors(db)
        if not query
        or query in v["key"]
        or query in v["name"].lower()
        or query in v["recipient"].lower()
    ]


def get_site(db: Database, site_key: str) -> Doc:
    site = store.get_site(db, site_key)
    if site is None:
        raise NotFound("site", site_key)
    return site


def get_category(db: Database, site_key: str, category_key: str) -> Doc:
    return _find(get_site(db, site_key)["categories"], category_key, "category")[1]


def get_assignment(db: Database, site_key: str, vendor_key: str) -> Doc:
    return _find(get_site(db, site_key)["vendors"], vendor_key, "assignment", "vendor")[1]


def require_site(db: Database, site_key: str) -> None:
    if store.site_origins(db, site_key) is None:
        raise NotFound("site", site_key)


# The organization


def update_organization(db: Database, fields: Doc, actor: str, merge: bool = False) -> Doc:
    """Replace the organization's fields (or merge them in); its privacy center sections are
    kept unless `fields` names them, as a site's categories are."""

    def mutate(doc: Doc) -> str:
        old = doc.get("organization") or {}
        kept = old if merge else {"sections": old["sections"]} if "sections" in old else {}
        doc["organization"] = {**kept, **fields}
        return "organization"

    org: Doc = _change(db, actor, mutate)["organization"]
    return org


def _sections(doc: Doc) -> list[Doc]:
    org = doc.get("organization")
    if org is None:
        raise Conflict("no_organization", "Save the organization's name first.", what="section")
    sections: list[Doc] = org.setdefault("sections", [])
    return sections


def save_section(db: Database, section: Doc, actor: str, key: str | None = None) -> Doc:
    """Create a privacy center section (`key` None) or replace the section `key`."""

    def mutate(doc: Doc) -> str:
        sections = _sections(doc)
        if key is None:
            new_key = section.get("key")
            _refuse_duplicate(sections, new_key, "section", f"Section '{new_key}' already exists.")
            sections.append(section)
            return f"organization.sections[{len(sections) - 1}]"
        index, _ = _find(sections, key, "section")
        sections[index] = _same_key(section, key)
        return f"organization.sections[{index}]"

    saved = _change(db, actor, mutate)["organization"]["sections"]
    return _find(saved, key or section["key"], "section")[1]


def move_section(db: Database, key: str, step: int, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        sections = _sections(doc)
        position, _ = _find(sections, key, "section")
        target = min(max(position + step, 0), len(sections) - 1)
        sections.insert(target, sections.pop(position))
        return ""

    _change(db, actor, mutate)


def delete_section(db: Database, key: str, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        sections = _sections(doc)
        del sections[_find(sections, key, "section")[0]]
        return ""

    _change(db, actor, mutate)


# Vendors


def create_vendor(db: Database, vendor: Doc, actor: str) -> Doc:
    def mutate(doc: Doc) -> str:
        key = vendor.get("key")
        _refuse_duplicate(doc["vendors"], key, "vendor", f"Vendor '{key}' already exists.")
        doc["vendors"].append(vendor)
        return f"vendors[{len(doc['vendors']) - 1}]"

    return _find(_change(db, actor, mutate)["vendors"], vendor["key"], "vendor")[1]


def update_vendor(db: Database, key: str, fields: Doc, actor: str, merge: bool = False) -> Doc:
    """Replace the vendor `key` with `fields` (or merge them in, with `merge`)."""
    fields = _same_key(fields, key)

    def mutate(doc: Doc) -> str:
        index, vendor = _find(doc["vendors"], key, "vendor")
        doc["vendors"][index] = {**vendor, **fields} if merge else fields
        return f"vendors[{index}]"

    return _find(_change(db, actor, mutate)["vendors"], key, "vendor")[1]


def delete_vendor(db: Database, key: str, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        index, _ = _find(doc["vendors"], key, "vendor")
        _refuse_if_vendor_used(doc, key)
        del doc["vendors"][index]
        return ""

    _change(db, actor, mutate)


# Sites


def create_site(db: Database, site: Doc, actor: str) -> Doc:
    def mutate(doc: Doc) -> str:
        key = site.get("key")
        _refuse_duplicate(doc["sites"], key, "site", f"Site '{key}' already exists.")
        doc["sites"].append(site)
        return f"sites[{len(doc['sites']) - 1}]"

    return _site(_change(db, actor, mutate), site["key"])[1]


def update_site(db: Database, key: str, fields: Doc, actor: str, merge: bool = False) -> Doc:
    """Replace the site's settings with `fields` (or merge them in); its categories and
    assignments are kept unless `fields` names them."""
    fields = _same_key(fields, key)

    def mutate(doc: Doc) -> str:
        index, site = _site(doc, key)
        kept = site if merge else {"categories": site["categories"], "vendors": site["vendors"]}
        doc["sites"][index] = {**kept, **fields}
        return f"sites[{index}]"

    return _site(_change(db, actor, mutate), key)[1]


def delete_site(db: Database, key: str, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        index, _ = _site(doc, key)
        _refuse_if_published(db, key)  # inside the transaction: no publish can slip in between
        del doc["sites"][index]
        return ""

    _change(db, actor, mutate)


# Categories of a site


def create_category(
    db: Database, site_key: str, category: Doc, actor: str, position: object = None
) -> Doc:
    def mutate(doc: Doc) -> str:
        index, site = _site(doc, site_key)
        categories = site["categories"]
        key = category.get("key")
        _refuse_duplicate(
            categories, key, "category", f"Category '{key}' already exists in site '{site_key}'."
        )
        at = _position(position, len(categories))
        at = len(categories) if at is None else at
        categories.insert(at, category)
        return f"sites[{index}].categories[{at}]"

    site = _site(_change(db, actor, mutate), site_key)[1]
    return _find(site["categories"], category["key"], "category")[1]


def update_category(
    db: Database,
    site_key: str,
    key: str,
    fields: Doc,
    actor: str,
    merge: bool = False,
    position: object = None,
) -> Doc:
    fields = _same_key(fields, key)

    def mutate(doc: Doc) -> str:
        index, site = _site(doc, site_key)
        categories = site["categories"]
        at, current = _find(categories, key, "category")
        new_at = _position(position, len(categories) - 1)
        del categories[at]
        at = at if new_at is None else new_at
        categories.insert(at, {**current, **fields} if merge else fields)
        return f"sites[{index}].categories[{at}]"

    site = _site(_change(db, actor, mutate), site_key)[1]
    return _find(site["categories"], key, "category")[1]


def move_category(db: Database, site_key: str, key: str, step: int, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        _, site = _site(doc, site_key)
        categories = site["categories"]
        at, _ = _find(categories, key, "category")
        target = min(max(at + step, 0), len(categories) - 1)
        categories.insert(target, categories.pop(at))
        return ""

    _change(db, actor, mutate)


def delete_category(db: Database, site_key: str, key: str, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        _, site = _site(doc, site_key)
        at, _ = _find(site["categories"], key, "category")
        _refuse_if_category_used(site, key)
        del site["categories"][at]
        return ""

    _change(db, actor, mutate)


# Assignments: vendors placed in a site's categories


def create_assignment(
    db: Database, site_key: str, vendor_key: object, category: object, actor: str
) -> Doc:
    def mutate(doc: Doc) -> str:
        index, site = _site(doc, site_key)
        _refuse_duplicate(
            site["vendors"],
            vendor_key,
            "assignment",
            f"Vendor '{vendor_key}' is already assigned to this site; change its category instead.",
            field="vendor",
        )
        site["vendors"].append({"vendor": vendor_key, "category": category})
        return f"sites[{index}].vendors[{len(site['vendors']) - 1}]"

    site = _site(_change(db, actor, mutate), site_key)[1]
    return _find(site["vendors"], vendor_key, "assignment", "vendor")[1]


def update_assignment(
    db: Database, site_key: str, vendor_key: str, category: object, actor: str
) -> Doc:
    """Move an assigned vendor to another category of the site."""

    def mutate(doc: Doc) -> str:
        index, site = _site(doc, site_key)
        at, _ = _find(site["vendors"], vendor_key, "assignment", "vendor")
        site["vendors"][at] = {"vendor": vendor_key, "category": category}
        return f"sites[{index}].vendors[{at}]"

    site = _site(_change(db, actor, mutate), site_key)[1]
    return _find(site["vendors"], vendor_key, "assignment", "vendor")[1]


def delete_assignment(db: Database, site_key: str, vendor_key: str, actor: str) -> None:
    def mutate(doc: Doc) -> str:
        _, site = _site(doc, site_key)
        del site["vendors"][_find(site["vendors"], vendor_key, "assignment", "vendor")[0]]
        return ""

    _change(db, actor, mutate)


# A registry file (CLI `registry apply`)


def apply_file(db: Database, doc: object, actor: str, prune: bool = False) -> list[store.Change]:
    """Make the registry match a registry file, all or nothing; the changes made."""
    with write(db, "registry"):
        try:
            _, merged = store.validate_file(db, doc, prune)
        except RegistryError as error:
            raise Invalid(error.problems) from None
        for key in sorted(set(store.site_keys(db)) - {s["key"] for s in merged["sites"]}):
            _refuse_if_published(db, key)
        return store.save(db, merged, actor)


# Publishing


def publish(db: Database, site_key: str, actor: str) -> tuple[Doc, bool]:
    """Publish the site's registry as a new revision: (revision, created)."""
    try:
        revision, created = revision_store.publish(db, site_key, actor)
    except revision_store.NotFound:
        raise NotFound("site", site_key) from None
    _after_publish(db, site_key, actor, created)
    return revision, created


def rollback(db: Database, site_key: str, number: int, actor: str) -> tuple[Doc, bool]:
    """Publish the content of revision `number` again, as a new revision: (revision, created)."""
    with write(db, "registry"):
        require_site(db, site_key)
        old = revision_store.get(db, site_key, number)
        if old is None:
            raise NotFound("revision", number)
        revision, created = revision_store.publish(db, site_key, actor, content=old["content"])
    _after_publish(db, site_key, actor, created)
    return revision, created


def _after_publish(db: Database, site_key: str, actor: str, created: bool) -> None:
    """A site set to be scanned after each publish gets a scan started (docs/scanner.md)."""
    if created:
        from ..scanner.jobs import after_publish  # the scanner imports this package's errors

        after_publish(db, site_key, actor)


def publish_message_kind(revision: Doc, created: bool) -> str:
    """What a publish means for visitors: 'first', 'ask_again', 'keep' or 'unchanged'."""
    if not created:
        return "unchanged"
    if revision["number"] == 1:
        return "first"
    return "ask_again" if revision["needs_decision"] else "keep"


def pending(db: Database, site_key: str) -> bool:
    """True when the site's current registry differs from its live revision (or has none)."""
    head = revision_store.head(db, site_key)
    draft = revision_store.compile_current(db, site_key)
    return head is None or content_hash(draft) != head[1]
