"""The wheel is a deployment: built, installed in a fresh venv and served from anywhere.

Nothing may come from the checkout: the source is copied before the build, the server runs from
the venv with its working directory in a temporary folder, and the widget it serves is the
bundle the build step wrote into the wheel.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", "node_modules"
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args, cwd, env, timeout=120):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def fetch(url, **headers):
    request = urllib.request.Request(url, headers={"Accept-Language": "en", **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read(), response.url


def wait_until_healthy(port, process, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(log.read_text())


def test_the_wheel_installs_and_serves_everything_without_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env = {k: v for k, v in env.items() if not k.startswith("PRIVACY_CENTER_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    # Build from a copy: a wheel must not depend on what a previous build left in build/.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, source], ROOT, env)
    (wheel,) = wheels.glob("privacy_center-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "server/widget_dist/widget.min.js",
        "server/widget_dist/widget.min.css",
        "server/widget_dist/widget.part.min.js",
        "server/widget_dist/widget.sha256",
        "server/demo/registry.yaml",
        "server/templates/privacy_center/disclosure.html",
        "server/static/privacy_center/site.css",
        "admin/templates/admin/login.html",
        "admin/static/admin.css",
    ):
        assert name in names
    assert not any(name.startswith("widget/") for name in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)
    python, command = str(venv / "bin" / "python"), str(venv / "bin" / "privacy-center")
    run([python, "-m", "pip", "install", "-q", wheel], tmp_path, env)

    home = tmp_path / "deployment"  # the working directory: not the repository
    home.mkdir()
    where = run(
        [python, "-c", "import server.widget as w; print(w.__file__); print(w.widget_source())"],
        home,
        env,
    ).split()
    assert where[0].startswith(str(venv)) and where[1] == str(Path(where[0]).parent / "widget_dist")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run([command, "init-db"], home, env)
    printed = run([command, "demo", "--origin", url, "--server-url", url], home, env)
    assert f"{url}/demo/news" in printed and "admin login:" in printed
    assert (home / "instance" / "privacy-center.db").is_file()

    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [command, "serve", "--port", str(port), "--workers", "1"],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(port, server, log)
        status, headers, body, _ = fetch(f"{url}/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}

        status, headers, body, _ = fetch(f"{url}/w/news.js", **{"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["Content-Type"] == "text/javascript; charset=utf-8"
        script = gzip.decompress(body).decode()
        assert script.startswith("(function(")
        config_text = script[script.rindex('({"site"') + 1 :]
        config = json.JSONDecoder().raw_decode(config_text)[0]
        assert config["site"] == "news" and config["name"]["en"] == "Sakura News"
        bundle = (Path(where[1]) / "widget.min.js").read_text(encoding="utf-8")
        assert script.startswith(bundle + "(")
        part_path = re.search(r'"(/w/p/[0-9a-f]+\.js)"', script).group(1)
        status, _, body, _ = fetch(url + part_path)
        part = (Path(where[1]) / "widget.part.min.js").read_text(encoding="utf-8")
        assert status == 200 and body.decode() == part

        status, _, body, _ = fetch(f"{url}/sites/news/disclosure?lang=en")
        assert status == 200 and "Sakura News" in body.decode()

        status, _, body, final = fetch(f"{url}/admin/")
        page = body.decode()
        assert status == 200 and final.startswith(f"{url}/admin/login")
        assert 'name="password"' in page and "Sign in" in page
        css = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
        status, headers, body, _ = fetch(url + css)
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        assert body == (ROOT / "admin" / "static" / "admin.css").read_bytes()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    assert server.returncode == 0, log.read_text()
