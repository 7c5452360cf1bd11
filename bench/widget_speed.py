"""Time from navigation start to a visible `Accept all`, median of 20 loads in headless Chromium.

Set-ups on the same page served from 127.0.0.2, scripts from 127.0.0.1: ours (/w/news.js, as a
plain, `async` and `defer` script tag), vanilla-cookieconsent 3.1.0 (`hideFromBots: false`), and
a bare script that only draws a dialog with three buttons in a shadow root (the practical
limit). Each load is a fresh browser context (cold cache). For ours, also the time from the
click on "Customize" to a visible switch (the preferences' part and the vendor details are
fetched then, in parallel). Run: .venv/bin/python bench/widget_speed.py [loads]
"""

from __future__ import annotations

import statistics
import sys
import threading

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from _widget_common import make_app, vanilla_cookieconsent

BARE = b"""(function(){var h=document.createElement('div'),r=h.attachShadow({mode:'open'});
var d=document.createElement('dialog');d.setAttribute('aria-label','Site');
['Accept all','Reject all','Customize'].forEach(function(t){var b=document.createElement('button');
b.textContent=t;d.append(b);});r.append(d);(document.body||document.documentElement).append(h);d.open=true;})();"""

VCC_CONFIG = """CookieConsent.run({hideFromBots: false, categories: {necessary: {readOnly: true, enabled: true},
 analytics: {}, ads: {}}, language: {default: 'en', translations: {en: {
 consentModal: {title: 'Sakura News', description: 'We use cookies.', acceptAllBtn: 'Accept all',
   acceptNecessaryBtn: 'Reject all', showPreferencesBtn: 'Customize'},
 preferencesModal: {title: 'Privacy preferences', acceptAllBtn: 'Accept all', acceptNecessaryBtn: 'Reject all',
   savePreferencesBtn: 'Save choices', sections: [{title: 'Analytics', linkedCategory: 'analytics'}]}}}}});"""

# True once a visible button named `Accept all` exists, in the page or in an open shadow root.
VISIBLE = """() => { const seen = (root) => { for (const b of root.querySelectorAll('button')) {
    if (b.textContent.trim() === 'Accept all') { const r = b.getBoundingClientRect(), s = getComputedStyle(b);
      if (r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.opacity !== '0') return true; } }
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot && seen(el.shadowRoot)) return true;
  return false; };
  return seen(document) ? performance.now() : false; }"""


def serve(host, app):
    server = make_server(host, 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


def main():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    loads = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    from playwright.sync_api import sync_playwright

    dist = vanilla_cookieconsent()
    statics = {
        "/bare.js": (BARE, "text/javascript"),
        "/vcc.js": ((dist / "cookieconsent.umd.js").read_bytes(), "text/javascript"),
        "/vcc.css": ((dist / "cookieconsent.css").read_bytes(), "text/css"),
    }

    @Request.application
    def static(request):
        if request.path not in statics:
            return Response("", status=404)
        body, kind = statics[request.path]
        return Response(body, mimetype=kind)

    _, static_url = serve("127.0.0.1", static)
    pages = {}

    @Request.application
    def publisher(request):
        if request.path not in pages:
            return Response("", status=404)
        return Response(pages[request.path], mimetype="text/html")

    _, page_url = serve("127.0.0.2", publisher)
    app = make_app([page_url])
    _, server_url = serve("127.0.0.1", app)
    body = "<main><h1>Article</h1>" + "<p>Text of the article.</p>" * 30 + "</main>"
    head = '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    pages["/ours"] = (
        f'{head}<script src="{server_url}/w/news.js"></script></head><body>{body}</body></html>'
    )
    for mode in ("async", "defer"):
        pages[f"/ours-{mode}"] = (
            f'{head}<script src="{server_url}/w/news.js" {mode}></script></head>'
            f"<body>{body}</body></html>"
        )
    pages["/bare"] = (
        f'{head}<script src="{static_url}/bare.js"></script></head><body>{body}</body></html>'
    )
    pages["/vcc"] = (
        f'{head}<link rel="stylesheet" href="{static_url}/vcc.css">'
        f'<script src="{static_url}/vcc.js"></script></head><body>{body}'
        f"<script>{VCC_CONFIG}</script></body></html>"
    )
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--disable-gpu", "--disable-quic", "--no-sandbox"],
        )
        for name in ("bare", "ours", "ours-async", "ours-defer", "vcc", "customize"):
            times = []
            for _ in range(loads + 1):
                context = browser.new_context()
                page = context.new_page()
                page.goto(page_url + "/" + name.replace("customize", "ours"), wait_until="commit")
                shown = page.wait_for_function(VISIBLE, polling="raf", timeout=10000).json_value()
                if name == "customize":
                    start = page.evaluate("performance.now()")
                    page.get_by_role("button", name="Customize").click()
                    page.get_by_role("switch").first.wait_for(state="visible", timeout=10000)
                    shown = page.evaluate("performance.now()") - start
                times.append(shown)
                context.close()
            results[name] = times[1:]  # the first load warms the servers
        browser.close()
    labels = {
        "bare": "bare dialog script (practical limit)",
        "ours": "ours (/w/news.js)",
        "ours-async": "ours, <script async>",
        "ours-defer": "ours, <script defer>",
        "vcc": "vanilla-cookieconsent 3.1.0",
        "customize": "ours: click on Customize to a switch",
    }
    base = statistics.median(results["bare"])
    print(f"{'set-up':40} {'median ms':>10} {'min':>7} {'max':>7} {'vs bare':>8}")
    for name in ("bare", "ours", "ours-async", "ours-defer", "vcc", "customize"):
        t = results[name]
        ratio = "" if name == "customize" else f"{statistics.median(t) / base:7.2f}x"
        print(
            f"{labels[name]:40} {statistics.median(t):10.1f} {min(t):7.1f} {max(t):7.1f} {ratio:>8}"
        )


if __name__ == "__main__":
    main()
