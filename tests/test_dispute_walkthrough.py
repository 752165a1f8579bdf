"""docs/disputes.md, run as written: every ``$ ...`` line of its console blocks, in order,
through the ``ledger`` command on a fresh SQLite store, with the key outcomes checked
(the same commands again with ``--json`` where a figure is checked)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "disputes.md"
LEDGER = Path(sys.executable).parent / "ledger"


def doc_commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


class Shell:
    """Just enough of a shell for the doc: export, cd, mkdir, env -u, VAR=value prefixes."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("LEDGER_DATABASE_URL", "LEDGER_SIGNING_KEY_FILE")}

    def run(self, line: str, *extra: str) -> subprocess.CompletedProcess:
        words = shlex.split(line)
        env = dict(self.env)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            self.env[name] = value
            return subprocess.CompletedProcess(words, 0, "", "")
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return subprocess.CompletedProcess(words, 0, "", "")
        if words[0] == "mkdir":
            (self.cwd / words[1]).mkdir()
            return subprocess.CompletedProcess(words, 0, "", "")
        if words[0] == "env":
            while words[0] in ("env", "-u"):
                if words[0] == "-u":
                    env.pop(words[1], None)
                    words = words[2:]
                else:
                    words = words[1:]
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "ledger", line
        return subprocess.run([str(LEDGER), *words[1:], *extra], cwd=self.cwd, env=env,
                              capture_output=True, text=True, timeout=300)


def test_the_dispute_walkthrough_runs_as_written(tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", work / "docs")
    shell = Shell(work)
    commands = doc_commands()
    assert len(commands) >= 15
    outputs: dict[str, subprocess.CompletedProcess] = {}
    for line in commands:
        result = shell.run(line)
        assert result.returncode == 0, f"$ {line}\n{result.stdout}\n{result.stderr}"
        outputs[line] = result
        if line.startswith("ledger import docs/disputes/open-dispute"):
            # the rep's statement lists the open dispute
            statement = json.loads(shell.run(
                "ledger query commission --rep R2 --period 2024-03", "--json").stdout)
            assert statement["total"] == 50_000 and statement["fines"] == 50_000
            assert [d["dispute_id"] for d in statement["disputes"]] == ["D1"]
        if line.startswith("ledger replay explain commission"):
            explained = json.loads(shell.run(line, "--json").stdout)
            fine = [s for s in explained["steps"] if s["rule"] == "fine"]
            assert [(s["position"], s["amount"]) for s in fine] == [(39, -50_000)]  # as the doc says
            assert explained["value"] == explained["steps"][-1]["running_total"] == 50_000
        if line.startswith("ledger replay what-if"):
            changes = {(c["key"], c["field"]): (c["live"], c["what_if"])
                       for c in json.loads(shell.run(line, "--json").stdout)["changes"]}
            assert changes[("R2/2024-03", "fines")] == (50_000, 0)
            assert changes[("R2/2024-03", "total")] == (50_000, 100_000)
        if line.startswith("ledger query disputes --entity R2") and "--open" not in line:
            (dispute,) = json.loads(shell.run(line, "--json").stdout)["disputes"]
            assert (dispute["status"], dispute["outcome"], dispute["correction_command_id"]) == (
                "resolved", "upheld", "reverse-F1")
        if line.startswith("ledger query commission --rep R2 --period 2024-04"):
            april = json.loads(shell.run(line, "--json").stdout)
            assert april["closed"] is True and april["adjustment"] == 50_000
        if line.startswith("ledger query audit --entity D1"):
            events = [e["event"] for e in json.loads(shell.run(line, "--json").stdout)["entries"]]
            assert events == ["Dispute.Opened", "Dispute.Resolved"]
        if line.startswith("ledger query command --id reverse-F1"):
            answer = json.loads(shell.run(line, "--json").stdout)
            assert "Rep.FineReversed" in json.dumps(answer)
    verified = outputs[next(c for c in commands if "verify --checkpoint" in c)]
    assert "signed checkpoint written" in verified.stdout
    bundle = next(c for c in commands if "--bundle" in c)
    assert outputs[bundle].stdout.startswith("ok:")
    answer = json.loads(shell.run(bundle, "--json").stdout)
    assert answer["ok"] is True and answer["replayed"] == {"figure": "total", "value": 50_000}
    assert answer["bundle"]["checkpoint"] is not None
    assert sorted(p.name for p in shell.cwd.iterdir()) == []  # no database made elsewhere
