#!/usr/bin/python3
"""Ansible module: lay down, remove or fix the ownership and mode of many whole files in one call.

Part of the sitekit baseline role. One module run replaces a template/copy/file task per file: on a
fleet the cost of a converge is mostly per-task round trips, so a section writes all its files at once.
Content is rendered on the controller (template lookup); files are replaced atomically (temporary file in
the same folder, then rename) and only when content, owner, group or mode differ. Check and diff modes
are supported.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: sitekit_files
short_description: Whole files, removals and permission fixes in one call
description: Writes each entry atomically when its content, owner, group or mode differ.
options:
  files:
    description: Entries with path, state (file, absent, attributes), content, owner, group, mode.
    type: list
    elements: dict
    required: true
"""


def _ids(owner: str, group: str) -> tuple[int, int]:
    return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid


def _fix_attributes(path: str, uid: int, gid: int, mode: int | None, check: bool) -> bool:
    st = os.lstat(path)
    changed = False
    if (st.st_uid, st.st_gid) != (uid, gid):
        changed = True
        if not check:
            os.lchown(path, uid, gid)
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        changed = True
        if not check:
            os.chmod(path, mode)
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True,
    )
    check = module.check_mode
    changed_paths: list[str] = []
    diffs: list[dict[str, str]] = []
    for entry in module.params["files"]:
        path = entry["path"]
        state = entry.get("state", "file")
        owner = entry.get("owner", "root")
        group = entry.get("group", "root")
        mode_raw = entry.get("mode")
        mode = int(str(mode_raw), 8) if mode_raw is not None else None
        try:
            if state == "absent":
                if os.path.lexists(path):
                    changed_paths.append(path)
                    if not check:
                        os.unlink(path)
                continue
            uid, gid = _ids(owner, group)
            if state == "attributes":
                if os.path.lexists(path) and _fix_attributes(path, uid, gid, mode, check):
                    changed_paths.append(path)
                continue
            content = entry.get("content", "")
            data = content.encode()
            try:
                with open(path, "rb") as fh:
                    old = fh.read()
            except FileNotFoundError:
                old = None
            if old != data:
                changed_paths.append(path)
                if module._diff:
                    diffs.append(
                        {
                            "before_header": path,
                            "after_header": path,
                            "before": "" if old is None else old.decode(errors="replace"),
                            "after": content,
                        }
                    )
                if check:
                    continue
                folder = os.path.dirname(path)
                if not os.path.isdir(folder):
                    os.makedirs(folder, mode=0o755, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sitekit-")
                try:
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                    os.chown(tmp, uid, gid)
                    os.chmod(tmp, mode if mode is not None else 0o644)
                    os.replace(tmp, path)
                except BaseException:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                    raise
            elif _fix_attributes(path, uid, gid, mode if mode is not None else None, check):
                changed_paths.append(path)
        except (OSError, KeyError) as exc:
            module.fail_json(msg=f"{path}: {exc}", changed_paths=changed_paths)
    result: dict[str, object] = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
