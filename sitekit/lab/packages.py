"""The one place that lists the Debian packages the lab uses.

Three lists, because they are consumed at different times: `ROOT_PACKAGES` are baked into the cached
root (what must exist at boot for systemd, sshd and Ansible to work), `VM_PACKAGES` are added to the VM
tier's root only (a kernel and an initramfs), and `MIRROR_PACKAGES` are *not* installed but served by the
lab's in-country mirror so that the roles install them exactly as they would on a real site. Adding a
package a role installs is a one-line change to `MIRROR_PACKAGES`; the caches are keyed by a digest of
these lists, so the next `sitekit lab up` rebuilds what changed and nothing else.
"""

from __future__ import annotations

import hashlib
import json

SUITE = "bookworm"
"""Debian release the lab hosts run (the same as the machines we harden)."""

DEBIAN_SOURCES = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
"""Where the root and the mirror's .deb files come from (only while building; hosts never see these)."""

ROOT_PACKAGES: tuple[str, ...] = (
    "systemd",  # PID 1 of every lab host
    "systemd-sysv",  # /sbin/init for nspawn --boot and the VM kernel
    "dbus",  # logind, hostnamectl and timedatectl need it
    "openssh-server",  # the only way in: Ansible and testinfra use real SSH
    "python3",  # Ansible modules
    "python3-apt",  # Ansible's apt module (otherwise it tries to install it first)
    "sudo",  # the ansible user becomes root through sudo, as on real hosts
    "iproute2",  # addresses and routes, inspected by the checks
    "nftables",  # the hardening's host firewall
    "ca-certificates",
    "procps",  # sysctl, ps
    "kmod",  # modprobe/lsmod probes of the module blocklist
    "libpam-modules",  # faillock, pam_limits
    "login",
    "passwd",
    "netbase",  # /etc/services, /etc/protocols
    "iputils-ping",
    "less",
    "gpgv",  # apt verifies the lab mirror's signature
    "e2fsprogs",  # Priority: required, so on every real host; the keys role's mkfs.ext4 and fsck need it
)

VM_PACKAGES: tuple[str, ...] = (
    "linux-image-cloud-amd64",  # small kernel with virtio; audit, dm-crypt and loop as modules
    "initramfs-tools",  # the cloud kernel's virtio drivers are modules, so the VM needs an initramfs
    # The VM boots through GRUB as real hosts do (sitekit.lab.bootdisk): the i386-pc images and modules, and
    # update-grub with Debian's kernel hook (runs it once /boot/grub/grub.cfg exists). Not grub-pc: its
    # postinst would grub-install to a debconf-chosen disk; the lab installs the boot code itself.
    "grub-pc-bin",
    "grub2-common",
    # AIDE comes preinstalled on the VM tier only, as a provisioning image may bring it: aide-common's
    # postinst registers ~200 files with ucf, which takes over 15 minutes under emulation (TCG). The
    # container tier still installs it from the mirror, so the role's install path stays tested.
    "aide",
    "aide-common",
)

MIRROR_PACKAGES: tuple[str, ...] = (
    "chrony",  # time from the in-country NTP servers
    "logrotate",  # baseline: rotated logs
    "apparmor",  # baseline: AppArmor profiles (enforced where the host owns its kernel)
    "libpam-apparmor",  # baseline: AppArmor hats for PAM sessions
    "auditd",  # audit daemon and rules (runs on the VM tier only)
    "audispd-plugins",  # audit remote logging
    "softhsm2",  # PKCS#11 backend for the lab's key custody
    "opensc",  # pkcs11-tool
    "p11-kit",
    "libpam-pwquality",  # password quality
    "cracklib-runtime",  # the dictionary of pam_pwquality's dictcheck (without it every password is refused)
    "cryptsetup",  # LUKS (VM tier)
    "cryptsetup-bin",
    "tpm2-tools",  # TPM checks against swtpm (VM tier)
    "rsyslog",  # local and remote logging
    "rsyslog-gnutls",  # the logging role's TLS driver (syslog over TLS to the country's collector)
    "apt-listchanges",
    "aide",  # file integrity
    "aide-common",
    "unattended-upgrades",
    "libpam-tmpdir",
    "needrestart",
    "debsums",
    "acl",
    "lsof",
)


def digest(*lists: tuple[str, ...]) -> str:
    """A short stable key for a set of package lists (order-insensitive within each list)."""
    payload = json.dumps([SUITE, list(DEBIAN_SOURCES), *[sorted(set(x)) for x in lists]])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
