"""Ansible callback: each play's recap per host, with the controls it changed, into the country's journal.

Enabled in ansible.cfg (`callbacks_enabled = sitekit_journal`). For every play it counts, per host, the
tasks that were ok, changed, failed, skipped or unreachable, and collects the control IDs (`SK-...` tags,
see sitekit/controls.yaml) of the tasks that changed something. When the play ends it appends one record
(`kind: ansible`) to `$SITEKIT_STATE/journal/<cc>/`, the country being the inventory's `sitekit_country`
(or `$SITEKIT_COUNTRY`).

It writes through sitekit's own journal code when `sitekit` imports (ansible-playbook from sitekit's venv),
else through `sitekit journal append <cc>` (the documented machine interface). It never fails a play: if
the journal cannot take the record, the record is kept in `missed.jsonl` next to the journal (which
`sitekit journal verify` reports and `sitekit journal repair` chains in) and a warning is shown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: sitekit_journal
type: notification
short_description: record each play's recap and changed controls in sitekit's operations journal
description:
  - Appends one record per play to $SITEKIT_STATE/journal/<cc>/journal.jsonl through sitekit.
requirements:
  - sitekit importable, or the sitekit command on PATH
"""

_CONTROL = re.compile(r"^SK-[A-Z0-9]+-\d{3}$")
_CODE = re.compile(r"^[A-Za-z]{2}$")
_COUNTS = ("ok", "changed", "failed", "skipped", "unreachable")


class CallbackModule(CallbackBase):  # type: ignore[misc]
    """Per-play recap into the journal."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "sitekit_journal"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._play: Any = None
        self._playbook = ""
        self._hosts: dict[str, dict[str, Any]] = {}
        self._country: dict[str, str] = {}
        self._started = 0.0

    # ---- play boundaries

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook = os.path.basename(str(getattr(playbook, "_file_name", "")))

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._flush()
        self._play = play
        self._hosts = {}
        self._started = time.monotonic()

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._flush()

    # ---- results

    def _host(self, result: Any) -> dict[str, Any]:
        name = result._host.get_name()
        if name not in self._hosts:
            self._hosts[name] = {**dict.fromkeys(_COUNTS, 0), "changed_controls": set()}
            self._country.setdefault(name, self._country_of(result._host))
        return self._hosts[name]

    def _controls(self, result: Any) -> set[str]:
        tags = getattr(result._task, "tags", None) or []
        return {str(t) for t in tags if _CONTROL.match(str(t))}

    def v2_runner_on_ok(self, result: Any) -> None:
        host = self._host(result)
        if result._result.get("changed", False):
            host["changed"] += 1
            host["changed_controls"] |= self._controls(result)
        else:
            host["ok"] += 1

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        host = self._host(result)
        host["ok" if ignore_errors else "failed"] += 1

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._host(result)["skipped"] += 1

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._host(result)["unreachable"] += 1

    # ---- writing

    def _country_of(self, host: Any) -> str:
        code = ""
        try:
            manager = self._play.get_variable_manager()
            code = str(manager.get_vars(play=self._play, host=host).get("sitekit_country", ""))
        except Exception:  # a play without the rendered inventory
            code = ""
        return code or os.environ.get("SITEKIT_COUNTRY", "")

    def _flush(self) -> None:
        if self._play is None or not self._hosts:
            return
        by_country: dict[str, dict[str, Any]] = {}
        for name, counts in self._hosts.items():
            cc = self._country.get(name, "")
            entry = {k: counts[k] for k in _COUNTS}
            entry["changed_controls"] = sorted(counts["changed_controls"])
            by_country.setdefault(cc, {})[name] = entry
        for cc, hosts in by_country.items():
            record = {
                "kind": "ansible",
                "playbook": self._playbook,
                "play": str(self._play.get_name()),
                "hosts": hosts,
                "seconds": round(time.monotonic() - self._started, 3),
            }
            self._append(cc, record)
        self._hosts = {}

    def _append(self, cc: str, record: dict[str, Any]) -> None:
        if not _CODE.match(cc):
            self._display.warning(
                f"sitekit_journal: play {record['play']!r} not journalled: no valid sitekit_country "
                f"(got {cc[:20]!r}); set it in the inventory or SITEKIT_COUNTRY"
            )
            return
        cc = cc.lower()
        try:
            kept = _append_with_sitekit(cc, record)
        except ImportError:
            kept = _append_with_command(cc, record)
        except Exception as exc:
            kept = _keep(cc, record, f"{type(exc).__name__}: {exc}")
        if not kept:
            self._display.warning(
                f"sitekit_journal: the journal of {cc} did not take play {record['play']!r}; "
                f"kept in missed.jsonl for `sitekit journal repair {cc}`"
            )


def _append_with_sitekit(cc: str, record: dict[str, Any]) -> bool:
    from sitekit.journal.operator import operator_identity
    from sitekit.journal.store import Journal
    from sitekit.paths import country_state

    state = country_state(cc)
    return Journal(cc, state.journal).append_or_keep({**record, "operator": operator_identity()}) is not None


def _append_with_command(cc: str, record: dict[str, Any]) -> bool:
    command = shutil.which("sitekit")
    if command is None:
        return _keep(cc, record, "sitekit is neither importable nor on PATH")
    try:
        done = subprocess.run(
            [command, "journal", "append", cc], input=json.dumps(record), text=True, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _keep(cc, record, str(exc))
    if done.returncode != 0:
        return _keep(cc, record, done.stderr.strip()[:300])
    return "seq" in done.stdout


def _keep(cc: str, record: dict[str, Any], why: str) -> bool:
    """Last resort without sitekit: the record goes to missed.jsonl, so the trail shows it was not chained."""
    base = Path(os.environ.get("SITEKIT_STATE") or Path.home() / ".local" / "state" / "sitekit")
    folder = base / "journal" / cc
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps({**record, "not_chained_because": why}, sort_keys=True) + "\n"
        fd = os.open(folder / "missed.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return False
