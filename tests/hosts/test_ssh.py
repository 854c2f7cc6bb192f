"""SK-SSH: the effective sshd configuration (`sshd -T -C user=…,host=…,addr=…`), its files and its units.

The connection context is an operator's: a member of the site's operator group connecting from the
first operator network, so `Match` blocks that would apply to operators are taken into account.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hostcheck import as_list, mode_at_most, sshd_list, sshd_value, stat_many

from sitekit.hostchecks.expect import MissingExpectation

MAIN = "/etc/ssh/sshd_config"
DROPIN_DIR = "/etc/ssh/sshd_config.d"


def _ctx(hostvars: dict[str, Any]) -> dict[str, str]:
    nets = hostvars.get("sitekit_operator_networks")
    if not nets:  # the operators' address is the connection context: never a made-up one
        raise MissingExpectation("sitekit_operator_networks")
    addr = str(next(ipaddress.ip_network(str(nets[0]), strict=False).hosts()))
    return {"user": "root", "addr": addr}


def _subset(probe: Any, observe: Any, key: str, allowed: list[str], hostvars: dict[str, Any]) -> list[str]:
    seen = sshd_list(probe, key, **_ctx(hostvars))
    observe(seen, allowed)
    assert seen, f"sshd -T printed no {key} (is sshd installed and its configuration valid?)"
    extra = [x for x in seen if x not in allowed]
    assert not extra, f"{key} allows {', '.join(extra)}"
    return seen


def test_sk_ssh_001(probe: Any, observe: Any, control: Any) -> None:
    text = (probe.cat(MAIN) or "") if probe.exists(MAIN) else ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    first = lines[0] if lines else ""
    observe(first, f"Include {DROPIN_DIR}/*.conf")
    assert first.split()[:1] == ["Include"] and f"{DROPIN_DIR}/" in first, (
        f"first directive of {MAIN} is {first!r}; drop-ins would not take precedence"
    )


def test_sk_ssh_002(probe: Any, observe: Any, control: Any) -> None:
    listing = probe.cmd(f"ls -1 {DROPIN_DIR} 2>/dev/null").stdout.split()
    active: dict[str, list[str]] = {}
    for name in listing:
        if not name.endswith(".conf") or "-sitekit-" in name:
            continue
        content = probe.cat(f"{DROPIN_DIR}/{name}") or ""
        directives = [ln.strip() for ln in content.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if directives:
            active[name] = directives
    observe({"drop_ins": listing, "active_foreign": active}, "only *-sitekit-*.conf set keywords")
    assert not active, f"foreign drop-ins still set keywords: {', '.join(active)}"


def test_sk_ssh_003(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    allowed = as_list(expect.get("ssh_kex_algorithms"))
    seen = _subset(probe, observe, "kexalgorithms", allowed, hostvars)
    # The role's first choice (the post-quantum hybrid) is the one sshd prefers, not merely allowed.
    assert seen[0] == allowed[0], f"kexalgorithms start with {seen[0]}, not the role's first choice {allowed[0]}"


def test_sk_ssh_004(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    _subset(probe, observe, "ciphers", as_list(expect.get("ssh_ciphers")), hostvars)


def test_sk_ssh_005(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    allowed = as_list(expect.get("ssh_macs"))
    seen = sshd_list(probe, "macs", **_ctx(hostvars))
    observe(seen, allowed)
    assert seen and all(m in allowed and m.endswith("-etm@openssh.com") for m in seen), f"MACs {seen}"


def test_sk_ssh_006(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    ctx = _ctx(hostvars)
    keys = sshd_value(probe, "hostkey", **ctx)
    algs = sshd_list(probe, "hostkeyalgorithms", **ctx)
    pub_algs = sshd_list(probe, "pubkeyacceptedalgorithms", **ctx)
    stats = stat_many(probe, keys)
    observe(
        {"hostkey": keys, "hostkeyalgorithms": algs, "pubkeyacceptedalgorithms": pub_algs, "files": stats},
        "ed25519 only, private keys 0600 root",
    )
    assert keys and all("ed25519" in k for k in keys), f"host keys {keys}"
    assert algs and all("ed25519" in a for a in algs), f"host key algorithms {algs}"
    for k, st in stats.items():
        assert st is not None, f"{k} missing"
        assert st["owner"] == "root" and mode_at_most(st["mode"], 0o600), f"{k} is {st}"


def test_sk_ssh_007(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    ctx = _ctx(hostvars)
    want = {
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "permitemptypasswords": "no",
        "pubkeyauthentication": "yes",
    }
    seen = {k: " ".join(sshd_value(probe, k, **ctx)) for k in want}
    observe(seen, want)
    wrong = {k: v for k, v in seen.items() if v != want[k]}
    assert not wrong, "; ".join(f"{k} {v or '(unset)'}, want {want[k]}" for k, v in wrong.items())


def test_sk_ssh_008(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    seen = " ".join(sshd_value(probe, "permitrootlogin", **_ctx(hostvars)))
    observe(seen, "no")
    assert seen == "no"


def test_sk_ssh_009(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    wanted = as_list(expect.get("ssh_allow_groups"))
    seen = sshd_list(probe, "allowgroups", **_ctx(hostvars))
    seen = [g for v in seen for g in v.split()]
    observe(seen, wanted)
    assert seen and sorted(seen) == sorted(wanted), f"AllowGroups {seen}, want {wanted}"


def test_sk_ssh_010(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    ctx = _ctx(hostvars)
    seen = {
        k: " ".join(sshd_value(probe, k, **ctx))
        for k in (
            "maxauthtries",
            "logingracetime",
            "maxstartups",
            "maxsessions",
            "clientaliveinterval",
            "clientalivecountmax",
        )
    }
    want_tries = int(expect.get("ssh_max_auth_tries"))
    want_grace = int(expect.get("ssh_login_grace_time"))
    observe(seen, {"maxauthtries<=": want_tries, "logingracetime<=": want_grace, "clientaliveinterval>": 0})
    assert int(seen["maxauthtries"] or 99) <= want_tries
    assert 0 < int(seen["logingracetime"] or 0) <= want_grace
    assert seen["maxstartups"] and seen["maxstartups"] != "100:30:100", "MaxStartups not bounded"
    assert int(seen["clientaliveinterval"] or 0) > 0, "idle sessions never time out (ClientAliveInterval 0)"
    assert int(seen["clientalivecountmax"] or 0) >= 1


def test_sk_ssh_011(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    ctx = _ctx(hostvars)
    want = {
        "x11forwarding": "no",
        "allowagentforwarding": "no",
        "allowtcpforwarding": "no",
        "permittunnel": "no",
        "gatewayports": "no",
        "permituserenvironment": "no",
        "allowstreamlocalforwarding": "no",
    }
    seen = {k: " ".join(sshd_value(probe, k, **ctx)) for k in want}
    observe(seen, want)
    wrong = {k: v for k, v in seen.items() if v != want[k]}
    assert not wrong, "; ".join(f"{k} {v or '(unset)'}, want {want[k]}" for k, v in wrong.items())


def test_sk_ssh_012(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    ctx = _ctx(hostvars)
    seen = {k: " ".join(sshd_value(probe, k, **ctx)) for k in ("loglevel", "syslogfacility")}
    observe(seen, {"loglevel": "VERBOSE", "syslogfacility": "AUTH"})
    assert seen == {"loglevel": "VERBOSE", "syslogfacility": "AUTH"}


def test_sk_ssh_013(probe: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    seen = " ".join(sshd_value(probe, "banner", **_ctx(hostvars)))
    observe(seen, "/etc/issue.net")
    assert seen == "/etc/issue.net"
    assert probe.cmd(f"test -s {seen}").rc == 0, f"{seen} is missing or empty"


def test_sk_ssh_014(probe: Any, observe: Any, control: Any) -> None:
    r = probe.cmd(
        "systemctl is-enabled ssh.socket; systemctl is-active ssh.socket; "
        "systemctl is-enabled ssh.service; systemctl is-active ssh.service"
    )
    socket_enabled, socket_active, svc_enabled, svc_active = (r.stdout.split() + ["?"] * 4)[:4]
    seen = {"ssh.socket": [socket_enabled, socket_active], "ssh.service": [svc_enabled, svc_active]}
    observe(seen, {"ssh.socket": ["masked", "inactive"], "ssh.service": ["enabled", "active"]})
    assert socket_enabled == "masked" and socket_active != "active", f"ssh.socket is {socket_enabled}/{socket_active}"
    assert svc_enabled == "enabled" and svc_active == "active", f"ssh.service is {svc_enabled}/{svc_active}"


def test_sk_ssh_015(probe: Any, observe: Any, control: Any) -> None:
    names = probe.cmd(f"ls -1 {DROPIN_DIR} 2>/dev/null").stdout.split()
    files = stat_many(probe, [MAIN, DROPIN_DIR, *(f"{DROPIN_DIR}/{n}" for n in names)])
    observe(files, {MAIN: "0644 root", "drop-ins": "0600 root", DROPIN_DIR: "0755 root"})
    bad = []
    for path, st in files.items():
        if st is None:
            bad.append(f"{path} missing")
            continue
        limit = 0o644 if path == MAIN else (0o755 if path == DROPIN_DIR else 0o600)
        if st["owner"] != "root" or not mode_at_most(st["mode"], limit):
            bad.append(f"{path} {st['mode']} {st['owner']}")
    assert not bad, "; ".join(bad)
