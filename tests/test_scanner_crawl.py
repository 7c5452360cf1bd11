"""The crawl's order and limits, with a recorder that answers from a table instead of a browser."""

from __future__ import annotations

import asyncio

import pytest

from server.scanner.browser import PageFailed
from server.scanner.run import crawl

ORIGIN = "https://shop.example.co.jp"
SITE = {
    "/": ["/a", "/b", "https://elsewhere.example/x"],
    "/a": ["/c", "/"],
    "/b": ["/missing"],
    "/c": [],
}


async def record(url, pass_):
    await asyncio.sleep(0.01 if url.endswith("/a") else 0)  # finishing out of order
    path = url[len(ORIGIN) :]
    if path not in SITE:
        raise PageFailed(f"{url}: HTTP 404")
    return {
        "page": url,
        "pass": pass_,
        "links": [link if link.startswith("http") else ORIGIN + link for link in SITE[path]],
    }


@pytest.mark.parametrize("workers", [1, 3])
def test_pages_are_visited_breadth_first_and_reported_in_that_order(workers):
    seen = []
    pages = asyncio.run(
        crawl(record, [ORIGIN + "/"], 20, lambda d, t: seen.append((d, t)), workers)
    )
    assert [p["url"] for p in pages] == [
        ORIGIN + "/",
        ORIGIN + "/a",
        ORIGIN + "/b",
        ORIGIN + "/c",
        ORIGIN + "/missing",
    ]
    assert pages[-1]["error"] == f"{ORIGIN}/missing: HTTP 404" and pages[-1]["passes"] == {}
    assert set(pages[0]["passes"]) == {"no_decision", "reject_all", "accept_all"}
    assert seen[-1] == (5, 5)


def test_max_pages_stops_the_crawl():
    pages = asyncio.run(crawl(record, [ORIGIN + "/"], 2))
    assert [p["url"] for p in pages] == [ORIGIN + "/", ORIGIN + "/a"]


def test_a_start_page_that_fails_fails_the_scan():
    with pytest.raises(PageFailed, match="HTTP 404"):
        asyncio.run(crawl(record, [ORIGIN + "/nope"], 20))
