"""Regional rules on the wire: the config and the widget per region, Vary, ETags, caches."""

import json
import urllib.request

import pytest

from support import ORIGIN, REGIMES, cdn_app

CONFIG = "/api/v1/sites/shop/config"
SCRIPT = "/w/shop.js"


@pytest.fixture
def cdn_client(db_path, db):
    """A client of an app that reads the region from Cloudflare's headers."""
    app = cdn_app(db_path)
    return app.test_client()


def vary(response):
    return [v.strip() for v in response.headers["Vary"].split(",")]


def test_config_says_the_regime_and_region_of_the_visitor(cdn_client, regional):
    jp = cdn_client.get(CONFIG, headers={"CF-IPCountry": "JP"})
    de = cdn_client.get(CONFIG, headers={"CF-IPCountry": "DE"})
    ca = cdn_client.get(CONFIG, headers={"CF-IPCountry": "US", "CF-Region-Code": "CA"})
    unknown = cdn_client.get(CONFIG, headers={"CF-IPCountry": "XX"})
    assert (jp.json["regime"], jp.json["region"]) == ("notice", "JP")
    assert (de.json["regime"], de.json["region"]) == ("opt_in", "DE")
    assert (ca.json["regime"], ca.json["region"]) == ("opt_out", "US-CA")
    assert (unknown.json["regime"], unknown.json["region"]) == ("opt_in", None)
    assert jp.json["regimes"] == REGIMES  # the rules themselves, for Consent Mode's regions
    for response in (jp, de, ca, unknown):
        assert {"CF-IPCountry", "CF-Region-Code", "Origin"} <= set(vary(response))
    assert len({jp.headers["ETag"], de.headers["ETag"], ca.headers["ETag"]}) == 3


def test_an_etag_of_one_region_never_answers_304_to_another(cdn_client, regional):
    for coding in ("br", "gzip", "identity"):
        jp = cdn_client.get(CONFIG, headers={"CF-IPCountry": "JP", "Accept-Encoding": coding})
        again = cdn_client.get(
            CONFIG,
            headers={
                "CF-IPCountry": "JP",
                "Accept-Encoding": coding,
                "If-None-Match": jp.headers["ETag"],
            },
        )
        assert again.status_code == 304 and "CF-IPCountry" in vary(again)
        de = cdn_client.get(
            CONFIG,
            headers={
                "CF-IPCountry": "DE",
                "Accept-Encoding": coding,
                "If-None-Match": jp.headers["ETag"],
            },
        )
        assert de.status_code == 200 and de.headers["ETag"] != jp.headers["ETag"]


def test_without_a_region_header_configured_nothing_changes(client, regional):
    response = client.get(CONFIG, headers={"CF-IPCountry": "JP"})
    assert (response.json["regime"], response.json["region"]) == ("opt_in", None)
    assert "CF-IPCountry" not in response.headers["Vary"]
    script = client.get(SCRIPT, headers={"CF-IPCountry": "JP"})
    assert script.headers["Vary"] == "Accept-Encoding"
    assert b'"regime":"opt_in"' in script.data and b'"region":null' in script.data


def test_a_site_without_regimes_is_opt_in_in_every_region(cdn_client, published):
    response = cdn_client.get(CONFIG, headers={"CF-IPCountry": "JP"})
    assert (response.json["regime"], response.json["region"]) == ("opt_in", "JP")
    assert "regimes" not in response.json


def test_the_widget_embeds_the_regime_of_the_visitor(cdn_client, regional):
    plain = {"Accept-Encoding": "identity"}
    jp = cdn_client.get(SCRIPT, headers={"CF-IPCountry": "JP", **plain})
    de = cdn_client.get(SCRIPT, headers={"CF-IPCountry": "DE", **plain})
    assert b'"regime":"notice"' in jp.data and b'"region":"JP"' in jp.data
    assert b'"regime":"opt_in"' in de.data and b'"region":"DE"' in de.data
    assert jp.headers["ETag"] != de.headers["ETag"]
    for response in (jp, de):
        assert vary(response) == ["Accept-Encoding", "CF-IPCountry", "CF-Region-Code"]
    stale = cdn_client.get(
        SCRIPT, headers={"CF-IPCountry": "DE", "If-None-Match": jp.headers["ETag"], **plain}
    )
    assert stale.status_code == 200 and b'"regime":"opt_in"' in stale.data


def get(url, **headers):
    request = urllib.request.Request(url, headers={"Origin": ORIGIN, **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers, response.read()


class VaryingCache:
    """A shared cache as RFC 9111 4.1 has it: a stored answer serves only a request whose
    headers named by the answer's Vary are the same as those of the request that fetched it."""

    def __init__(self, base):
        self.base, self.stored, self.misses = base, {}, 0

    def get(self, path, **headers):
        for (stored_path, varied), (head, body) in self.stored.items():
            if stored_path == path and all(headers.get(n) == v for n, v in varied):
                return head, body
        self.misses += 1
        head, body = get(self.base + path, **headers)
        names = [n.strip() for n in head["Vary"].split(",")]
        self.stored[(path, tuple((n, headers.get(n)) for n in names))] = (head, body)
        return head, body


def test_a_served_process_answers_jp_and_de_apart_through_a_shared_cache(served, db_path, regional):
    base = served(db_path, workers=1, PRIVACY_CENTER_REGION_HEADER="CF-IPCountry")
    cache = VaryingCache(base)
    for path in (CONFIG, SCRIPT):
        jp_head, jp_body = cache.get(path, **{"CF-IPCountry": "JP"})
        de_head, de_body = cache.get(path, **{"CF-IPCountry": "DE"})
        assert "CF-IPCountry" in jp_head["Vary"] and "CF-IPCountry" in de_head["Vary"]
        assert jp_body != de_body and jp_head["ETag"] != de_head["ETag"]
        assert cache.get(path, **{"CF-IPCountry": "JP"})[1] == jp_body  # a hit, JP's
        assert cache.get(path, **{"CF-IPCountry": "DE"})[1] == de_body  # a hit, DE's
    assert cache.misses == 4
    config_jp = json.loads(cache.get(CONFIG, **{"CF-IPCountry": "JP"})[1])
    config_de = json.loads(cache.get(CONFIG, **{"CF-IPCountry": "DE"})[1])
    assert (config_jp["regime"], config_jp["region"]) == ("notice", "JP")
    assert (config_de["regime"], config_de["region"]) == ("opt_in", "DE")
    assert b'"regime":"notice"' in cache.get(SCRIPT, **{"CF-IPCountry": "JP"})[1]
    assert b'"regime":"opt_in"' in cache.get(SCRIPT, **{"CF-IPCountry": "DE"})[1]
