"""Running the stack program under recording mocks: no engine, no cluster, no Pulumi CLI.

The program is run as a program (`runpy` on its folder, as the Pulumi language host does), never imported
as a module of this package. Pulumi's mock settings are process-wide, so a run installs its own mocks,
configuration and root stack and returns everything the program declared.
"""

from __future__ import annotations

import json
import logging
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from sitekit.plan.records import Recorded, normalise
from sitekit.spec import Site, site_digest

PROJECT = "sitekit"


@dataclass
class Recording:
    """What one mocked run declared, its stack outputs, and what it logged as warnings."""

    resources: list[Recorded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _RecordingMocks(pulumi.runtime.Mocks):
    """Echo every resource's inputs back as its outputs, and keep a copy."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        secrets: list[tuple[str, ...]] = []
        props = normalise(args.inputs, (), secrets)
        urn = f"urn:pulumi:{pulumi.get_stack()}::{PROJECT}::{args.typ}::{args.name}"
        self.recording.resources.append(
            Recorded(args.typ, args.name, urn, props, bool(args.custom), tuple(secrets), args.provider or "")
        )
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class _WarningLog(logging.Handler):
    def __init__(self, recording: Recording) -> None:
        super().__init__(logging.WARNING)
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.warnings.append(record.getMessage())


def stack_config(site: Site, *, offline_plan: bool = True, digest: str | None = None) -> dict[str, str]:
    """The same configuration `sitekit render` writes to `Pulumi.<cc>.yaml`, as the engine passes it."""
    config = {
        "sitekit:site": json.dumps(site.model_dump(mode="json"), sort_keys=True),
        "sitekit:specDigest": digest if digest is not None else site_digest(site),
    }
    if offline_plan:
        config["sitekit:offlinePlan"] = "true"
    return config


def rendered_config(path: Path, *, offline_plan: bool = True) -> dict[str, str]:
    """The configuration `pulumi up` would give the program from a stack file (`Pulumi.<cc>.yaml`).

    The engine passes every value as text, structured values as JSON, exactly like this; so the plan runs
    the program on what a deployment would read, hand edits included, not on a config rebuilt from the spec.
    """
    import yaml

    from sitekit.errors import UserError

    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path.name} does not exist: run `sitekit render` first") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from None
    raw = (document or {}).get("config") if isinstance(document, dict) else None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: no `config:` map")
    config = {str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in raw.items()}
    if offline_plan:
        config["sitekit:offlinePlan"] = "true"
    return config


def run_program(program: Path, stack: str, config: Mapping[str, str]) -> Recording:
    """Run the program folder under mocks with `config`; exceptions from the program propagate."""
    return run_function(lambda: _run_path(program), stack, config)


def run_function(fn: Callable[[], object], stack: str, config: Mapping[str, str] | None = None) -> Recording:
    """Run `fn` (which declares resources) under fresh recording mocks and wait for every registration."""
    recording = Recording()
    logger = logging.getLogger(f"sitekit.plan.program.{stack}")
    logger.propagate = False
    handler = _WarningLog(recording)
    logger.addHandler(handler)
    try:
        pulumi_settings.reset_options()
        pulumi.runtime.set_mocks(_RecordingMocks(recording), project=PROJECT, stack=stack, preview=False, logger=logger)
        pulumi.runtime.set_all_config(dict(config or {}), [])
        _sync_await(run_pulumi_func(lambda: _call(fn)))
        recording.outputs = _stack_outputs()
    finally:
        logger.removeHandler(handler)
    return recording


def _call(fn: Callable[[], object]) -> None:
    fn()


def _run_path(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")


def _stack_outputs() -> dict[str, Any]:
    root = pulumi_settings.get_root_resource()
    raw: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    out: dict[str, Any] = {}
    for key in sorted(raw):
        value = raw[key]
        if isinstance(value, pulumi.Output):
            value = _sync_await(value.future())
        out[key] = normalise(value)
    return out
