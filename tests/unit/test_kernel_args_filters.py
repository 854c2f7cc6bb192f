"""The kernel_args role's filters: merging arguments into GRUB_CMDLINE_LINUX and finding grub.cfg lines
that lack them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

PLUGIN = Path(__file__).resolve().parents[2] / "playbooks/roles/kernel_args/filter_plugins/kernel_args.py"


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kernel_args_filters", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _plugin()
BASE = ["console=ttyS0", "audit=1", "net.ifnames=0", "panic=-1"]


def test_merge_appends_missing_arguments_and_keeps_the_rest_in_order() -> None:
    assert F.kernel_args_merge(BASE, ["apparmor=1", "security=apparmor"]) == [*BASE, "apparmor=1", "security=apparmor"]


def test_merge_replaces_an_argument_of_the_same_name_where_it_stands() -> None:
    line = ["quiet", "iommu=force", "splash", "iommu=off"]
    assert F.kernel_args_merge(line, ["iommu=pt"]) == ["quiet", "iommu=pt", "splash"]


def test_merge_of_several_callers_in_turn_is_idempotent() -> None:
    callers = [["apparmor=1", "security=apparmor"], ["intel_iommu=on", "iommu=pt"], ["slab_nomerge=yes", "pti=on"]]
    line = list(BASE)
    for args in callers:
        line = F.kernel_args_merge(line, args)
    again = list(line)
    for args in callers:
        again = F.kernel_args_merge(again, args)
    assert again == line
    assert line[: len(BASE)] == BASE


def test_a_bare_flag_and_its_valued_form_share_a_name() -> None:
    assert F.kernel_args_merge(["slab_nomerge", "quiet"], ["slab_nomerge=yes"]) == ["slab_nomerge=yes", "quiet"]


def test_lacking_names_every_linux_line_without_all_arguments() -> None:
    good = "linux /vmlinuz-6.1 root=UUID=x ro console=ttyS0 pti=on apparmor=1"
    bad = "linux /vmlinuz-6.1 root=UUID=x ro console=ttyS0 apparmor=1"
    assert F.kernel_args_lacking([good, bad], ["pti=on", "apparmor=1"]) == [bad]
    assert F.kernel_args_lacking([good], ["pti=on"]) == []
    # a value that only starts like the wanted one is not it
    assert F.kernel_args_lacking(["linux /v pti=onx"], ["pti=on"]) == ["linux /v pti=onx"]
