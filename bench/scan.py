"""The scanner's speed and memory: a 20-page site scanned in three passes, as the CLI runs it.

Three loopback servers: the privacy center on 127.0.0.1 (its widget), a publisher's 20 linked
pages on 127.0.0.2 (each with two held tags and one necessary tag) and a vendor on 127.0.0.3.
`privacy-center scan` runs as its own process; its process tree's memory (the CLI and
Chromium's processes together) is sampled every 50 ms from /proc.
Run: .venv/bin/python bench/scan.py [pages]
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from server import create_app
from server.storage import connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the shared test registry, for a realistic site
from support import E2E_REGISTRY  # noqa: E402

VENDOR = {
    "key": "bench-analytics",
    "name": "Bench Analytics",
    "recipient": "Bench Analytics LLC",
    "privacy_policy_url": "https://bench.example/privacy",
    "hosts": ["127.0.0.3"],
    "cookies": [{"name": "_ba", "duration_days": 30}],
    "data_sent": {"ja": "閲覧したページ", "en": "Pages visited"},
    "purpose": {"ja": "分析", "en": "Analytics"},
}


def serve(host, app):
    server = make_server(host, 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


def publisher_app(pages, widget, vendor):
    def page(n):
        links = "".join(f'<li><a href="/p{i}.html">page {i}</a></li>' for i in (n + 1, n + 2))
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<script src="{widget}"></script><title>Page {n}</title></head><body>'
            f"<h1>Page {n}</h1><p>{'Article text. ' * 200}</p><ul>{links}</ul>"
            f'<script src="/site.js"></script>'
            f'<script type="text/plain" data-category="analytics" data-vendor="bench-analytics"'
            f' data-src="{vendor}/a.js"></script>'
            f'<script type="text/plain" data-category="analytics" data-vendor="bench-analytics">'
            f'document.cookie = "_ba=1; path=/";</script></body></html>'
        )

    @Request.application
    def app(request):
        name = request.path.strip("/") or "p0.html"
        if name == "site.js":  # the site's own script: first party, runs at once
            return Response("window.site = 1;", mimetype="text/javascript")
        if not name.startswith("p") or not name.endswith(".html"):
            return Response("not found", status=404)
        n = int(name[1:-5])
        return Response(page(n), mimetype="text/html") if n < pages else Response("", 404)

    return app


@Request.application
def vendor_app(request):
    return Response("window.ran = (window.ran || 0) + 1;", mimetype="text/javascript")


def tree_pss(pid):
    """Proportional memory (shared pages split between their users) of a process and all its
    descendants, in bytes: summing resident sizes would count Chromium's shared pages often."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
        todo.extend(children.get(current, []))
    return total


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        db_path = str(Path(tmp) / "bench.db")
        center, center_url = serve(
            "127.0.0.1", create_app({"DATABASE": db_path, "SECRET_KEY": "bench"})
        )
        vendor, vendor_url = serve("127.0.0.3", vendor_app)
        pub, pub_url = serve(
            "127.0.0.2", publisher_app(pages, f"{center_url}/w/bench.js", vendor_url)
        )
        doc = copy.deepcopy(E2E_REGISTRY)
        doc["vendors"].append(VENDOR)
        site = doc["sites"][0]
        site.update(key="bench", origins=[pub_url])
        site["vendors"] = [{"vendor": "bench-analytics", "category": "analytics"}]
        db = connect(db_path)
        migrate(db)
        registry_store.apply(db, doc, "bench")
        revision_store.publish(db, "bench", "bench")
        db.conn.close()
        command = [sys.executable, "-m", "server", "--database", db_path, "scan", "bench"]
        command += ["--url", f"{pub_url}/p0.html", "--max-pages", str(pages), "--format", "json"]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_pss(process.pid))
            time.sleep(0.05)
        out, err = process.communicate()
        elapsed = time.monotonic() - started
        for server in (center, vendor, pub):
            server.shutdown()
    if process.returncode not in (0, 1):
        sys.exit(f"scan failed ({process.returncode}): {err.decode()}")
    import json

    result = json.loads(out)
    print(
        f"workers (pages at once, three contexts each): {os.environ.get('PRIVACY_CENTER_SCAN_WORKERS', 2)}"
    )
    scanned = len(result["pages"])
    print(f"pages scanned: {scanned} (3 passes each), findings: {len(result['findings'])}")
    print(f"wall time: {elapsed:.1f} s, including Chromium's start")
    print(f"pages per minute (three passes each): {scanned / elapsed * 60:.1f}")
    print(f"page loads per minute (one pass each): {3 * scanned / elapsed * 60:.1f}")
    print(f"peak memory (PSS) of the scanning process tree: {peak / 2**20:.0f} MiB")
    seconds = sorted(p["seconds"] for page in result["pages"] for p in page["passes"].values())
    if seconds:
        print(
            f"one pass of one page: median {seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s"
        )


if __name__ == "__main__":
    main()
