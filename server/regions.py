"""The visitor's region, read from the CDN's headers, and the regime a site applies there."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pycountry
from flask import Flask, current_app, request

REGIMES = ("opt_in", "opt_out", "notice")
# A site without `regimes`, or a visitor whose region matches none of its keys: as before
# regions existed, nothing optional runs before consent.
DEFAULT_REGIME = "opt_in"

# The member states of the European Union (since 1 February 2020), and of the European
# Economic Area: the EU with Iceland, Liechtenstein and Norway. docs/regions.md lists them.
EU = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
EEA = EU | {"IS", "LI", "NO"}
# Most specific first: a region key naming a group applies to every member country.
GROUPS: dict[str, frozenset[str]] = {"EU": EU, "EEA": EEA}

COUNTRY = re.compile(r"^[A-Z]{2}\Z")
SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}\Z")
SUBDIVISION_PART = re.compile(r"^[A-Z0-9]{1,3}\Z")
# Header names as a proxy forwards them: a name with "_" is dropped by the servers in front of
# the app (and by gunicorn), so such a setting could never match anything.
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")

REGION_HEADER_ENV = "PRIVACY_CENTER_REGION_HEADER"
SUBDIVISION_HEADER_ENV = "PRIVACY_CENTER_SUBDIVISION_HEADER"


@cache
def countries() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes in force (pycountry's copy of the ISO list)."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def subdivisions() -> frozenset[str]:
    """The ISO 3166-2 subdivision codes (`US-CA`, `JP-13`), loaded once (~60 ms)."""
    return frozenset(subdivision.code for subdivision in pycountry.subdivisions)


def is_country(code: str) -> bool:
    """An assigned ISO 3166-1 alpha-2 code: not XX (Cloudflare's unknown), T1 (Tor), ZZ, EU…"""
    return code in countries()


def key_problem(key: object) -> str | None:
    """Why `key` cannot be a region key of a site's regimes, or None when it can."""
    if not isinstance(key, str):
        return "must be a country (JP), a subdivision (US-CA) or a group (EU, EEA)"
    if key in GROUPS:
        return None
    if COUNTRY.match(key):
        if key == "UK":
            return "is not an ISO 3166-1 code: the United Kingdom is GB"
        return None if is_country(key) else "is not an ISO 3166-1 alpha-2 country code"
    if SUBDIVISION.match(key):
        if not is_country(key[:2]):
            return f"{key[:2]} is not an ISO 3166-1 alpha-2 country code"
        return None if key in subdivisions() else "is not an ISO 3166-2 subdivision code"
    return "must be a country (JP), a subdivision (US-CA, ISO 3166-2) or a group (EU, EEA)"


def parse_region(country: str | None, subdivision: str | None = None) -> str | None:
    """The region of a request from its country and subdivision header values.

    `JP`, `US-CA` or None when the country is missing or not an assigned alpha-2 code
    (Cloudflare sends XX for unknown and T1 for Tor). The subdivision may come as `CA` or as
    `US-CA`; one that is not an ISO 3166-2 code of that country is dropped and the country
    alone is kept (so that the regions an answer varies on stay a known, bounded set).
    """
    code = (country or "").strip().upper()
    if not COUNTRY.match(code) or not is_country(code):
        return None
    sub = (subdivision or "").strip().upper()
    if sub.startswith(f"{code}-"):
        sub = sub[3:]
    if sub and SUBDIVISION_PART.match(sub) and f"{code}-{sub}" in subdivisions():
        return f"{code}-{sub}"
    return code


def regime_for(regimes: Mapping[str, Any] | None, region: str | None) -> str:
    """The regime a site applies in `region`: subdivision > country > EU > EEA > default."""
    if not regimes:
        return DEFAULT_REGIME
    default = str(regimes.get("default") or DEFAULT_REGIME)
    if region is None:
        return default
    rules: Mapping[str, str] = regimes.get("regions") or {}
    country = region[:2]
    candidates = [region] if region != country else []
    candidates.append(country)
    candidates += [group for group, members in GROUPS.items() if country in members]
    for key in candidates:
        if key in rules:
            return rules[key]
    return default


def check_header_name(value: str | None, env: str) -> str | None:
    """A header name setting, stripped; None when unset. Raises ValueError, readable, if wrong."""
    value = (value or "").strip()
    if not value:
        return None
    if not HEADER_NAME.match(value):
        raise ValueError(
            f"{env}={value!r} is not a header name a proxy forwards: "
            "letters, digits and '-' only (e.g. CF-IPCountry)"
        )
    return value


def header_settings(region: str | None, subdivision: str | None) -> tuple[str | None, str | None]:
    """The (region, subdivision) header names from their settings; ValueError, readable, if wrong."""
    names = (
        check_header_name(region, REGION_HEADER_ENV),
        check_header_name(subdivision, SUBDIVISION_HEADER_ENV),
    )
    if names[1] and not names[0]:
        raise ValueError(f"{SUBDIVISION_HEADER_ENV} needs {REGION_HEADER_ENV} too")
    return names


def check_environment() -> None:
    """Raise ValueError for a header setting that cannot work (called before serving)."""
    header_settings(os.environ.get(REGION_HEADER_ENV), os.environ.get(SUBDIVISION_HEADER_ENV))


def init_app(app: Flask) -> None:
    """Read the header names (app config first, else the environment); a wrong one stops the app."""

    def setting(key: str, env: str) -> str | None:
        value = app.config[key] if key in app.config else os.environ.get(env)
        return None if value is None else str(value)

    region, subdivision = header_settings(
        setting("REGION_HEADER", REGION_HEADER_ENV),
        setting("SUBDIVISION_HEADER", SUBDIVISION_HEADER_ENV),
    )
    app.config["REGION_HEADER"], app.config["SUBDIVISION_HEADER"] = region, subdivision
    if region:  # loaded as the worker starts, not on its first visitor (~60-130 ms)
        countries()
    if subdivision:
        subdivisions()


def vary_headers() -> list[str]:
    """The request headers a region-dependent answer varies on: the configured ones only."""
    config = current_app.config
    return [name for name in (config["REGION_HEADER"], config["SUBDIVISION_HEADER"]) if name]


def request_region() -> str | None:
    """This request's region from the configured headers; None without them (no IP lookup)."""
    return header_region(current_app.config, request.headers.get)


def header_region(config: Mapping[str, Any], header: Callable[[str], str | None]) -> str | None:
    """The region from the configured headers, `header(name)` giving a header's value (outside
    a Flask request too: server/fastpath.py); None without them."""
    if not config["REGION_HEADER"]:
        return None
    subdivision = None
    if config["SUBDIVISION_HEADER"]:
        subdivision = header(config["SUBDIVISION_HEADER"])
    return parse_region(header(config["REGION_HEADER"]), subdivision)
