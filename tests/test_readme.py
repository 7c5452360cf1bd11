"""The README's shell walkthrough runs as pasted: one block, in bash, from a checkout."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## A registry, a decision and its receipt, from the shell"


def walkthrough_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 1, "the walkthrough is one block, to paste in one go"
    return blocks[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not shutil.which("curl"), reason="the walkthrough uses curl")
@pytest.mark.skipif(
    not (Path(sys.prefix) / "bin" / "activate").exists(), reason="the walkthrough needs a venv"
)
def test_the_walkthrough_runs_as_pasted(tmp_path):
    # A checkout as the reader has it: the walkthrough refers to .venv and docs/ by path.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    (checkout / "docs").symlink_to(ROOT / "docs")
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "TMPDIR": str(tmp_path),  # where its `mktemp -d` database goes
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for name in ("PRIVACY_CENTER_DB", "PRIVACY_CENTER_SECRET_KEY"):
        env.pop(name, None)
    # -e: a failing step fails the test instead of scrolling past, as it would on screen.
    # Output to files, not pipes: a server left running would hold a pipe open for ever.
    out_file, err_file = tmp_path / "stdout", tmp_path / "stderr"
    with out_file.open("w") as stdout, err_file.open("w") as stderr:
        process = subprocess.Popen(
            ["bash", "-e", "-c", walkthrough_block()],
            cwd=checkout,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        process.wait(timeout=90)
    finally:
        # Whatever happened, nothing the block started outlives the test (its own group).
        stopped_by_block = not listening(port)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    out, err = out_file.read_text(), err_file.read_text()
    assert process.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"

    # Each step printed what the README says it prints, and nothing of the server's log.
    lines = out.splitlines()
    assert not any(line.startswith("127.0.0.1 ") for line in lines)
    assert any(line.startswith("published shop revision 1 ") for line in lines)
    documents = [json.loads(line) for line in lines if line.startswith("{")]
    config, answer, records = documents
    assert config["site"] == "shop" and config["revision"] == 1
    assert lines[lines.index(json.dumps(answer, separators=(",", ":"))) + 1] == "201"
    assert answer["receipt"].startswith(answer["consent_id"] + ".shop.")
    assert records["consent_id"] == answer["consent_id"]
    assert [d["action"] for d in records["decisions"]] == ["custom"]
    assert records["decisions"][0]["categories"] == {
        "necessary": True,
        "analytics": True,
        "advertising": False,
    }
    header = next(line for line in lines if line.startswith("recorded_at,"))
    assert header.split(",")[:3] == ["recorded_at", "consent_id", "site_key"]
    assert any(answer["consent_id"] in line for line in lines[lines.index(header) + 1 :])
    # And the server was stopped at the end.
    assert stopped_by_block
    (log,) = tmp_path.glob("tmp.*/server.log")
    assert "Granian shutdown completed" in log.read_text()  # a graceful stop, not a kill
