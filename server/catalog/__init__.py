"""The vendor catalog shipped with the project: well-known vendors, ready to copy into a registry.

Each entry is a registry vendor (docs/registry.md) plus two catalog-only fields: `category`, the
category a site usually puts it in, and `sources`, the vendor documentation its facts were
checked against. The file is read on first use only (the CLI, the admin's vendor form, the
scanner), never by the widget or the public API.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

# Fields an entry has beyond a registry vendor's; `as_vendor` drops them.
CATALOG_ONLY = ("category", "sources")
CATEGORIES = ("analytics", "advertising", "functional")


@functools.cache
def _load() -> tuple[dict[str, Any], ...]:
    text = resources.files(__name__).joinpath("vendors.yaml").read_text(encoding="utf-8")
    # libyaml's loader when PyYAML has it: the file is read in a tenth of the time.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    entries = yaml.load(text, Loader=loader)["vendors"]
    return tuple(entries)


@functools.cache
def _index() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict]]:
    """Entries by key, by exact host, and by the domain of a `*.domain` pattern."""
    by_key, exact, wildcard = {}, {}, {}
    for entry in _load():
        by_key[entry["key"]] = entry
        for host in entry.get("hosts") or []:
            if host.startswith("*."):
                wildcard[host[2:]] = entry
            else:
                exact[host] = entry
    return by_key, exact, wildcard


def all() -> list[dict[str, Any]]:  # shadows the builtin inside this module only
    """Every entry, in the file's order (copies: callers may change them)."""
    return copy.deepcopy(list(_load()))


def get(key: str) -> dict[str, Any] | None:
    """The entry with this key, or None."""
    entry = _index()[0].get(key)
    return copy.deepcopy(entry) if entry is not None else None


def normalize_host(host: str) -> str:
    """A host as the catalog lists it: lower case, no port, no trailing dot; a URL's host too."""
    host = host.strip()
    if "://" in host:
        host = urlsplit(host).netloc
    host = host.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal, [::1]:443
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".").lower()


def find_by_host(host: str) -> dict[str, Any] | None:
    """The entry whose hosts name this host: an exact host first, else the longest `*.domain`
    that the host is under (a subdomain at any depth, not the bare domain). The port is ignored,
    case does not matter."""
    _, exact, wildcard = _index()
    host = normalize_host(host)
    if not host:
        return None
    entry = exact.get(host)
    if entry is None:
        labels = host.split(".")
        # Longest domain first: the most specific pattern wins.
        for i in range(1, len(labels)):
            entry = wildcard.get(".".join(labels[i:]))
            if entry is not None:
                break
    return copy.deepcopy(entry) if entry is not None else None


def as_vendor(entry: dict[str, Any]) -> dict[str, Any]:
    """The registry vendor an entry describes: the entry without its catalog-only fields."""
    return {k: copy.deepcopy(v) for k, v in entry.items() if k not in CATALOG_ONLY}
