#!/usr/bin/env bash
# The main job on the built-in demo fleet (README): validate, render, plan, lab up, keys, harden,
# verify, then the cluster half: the lab control plane and `pulumi up` of the stack. Installs what it needs. Leaves the lab running for you to explore; `sitekit lab down ee`
# removes it. DEMO_CC picks the lab country (default ee, the one sized for the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
cc="${DEMO_CC:-ee}"
step() { printf '\n== %s\n' "$*"; }
step "validate the fleet spec"
sitekit validate
step "render every country's stack config and inventory"
sitekit render
sitekit render --check
step "plan every country's cluster offline (Pulumi mocks; no cluster, no Pulumi CLI)"
for c in $(sitekit validate | awk '$1=="ok"{print $2}'); do
  sitekit plan "$c"
done
step "start the lab for $cc: one real Debian host per spec host (systemd-nspawn, private network namespace)"
sitekit lab up "$cc"
state="${SITEKIT_STATE:-$HOME/.local/state/sitekit}"
inventory="$state/lab/$cc/inventory"
step "create $cc's key hierarchy in a SoftHSM2 token (pkcs11 backend, as the spec says)"
# The demo token's PINs are generated once and kept in the state folder (0600), never in the tree or
# the log; a real site types them at the ceremony or takes them from its secret store.
pins="$state/demo/$cc-token.env"
if [ -z "${SITEKIT_PKCS11_PIN:-}" ]; then
  if [ ! -f "$pins" ]; then
    mkdir -p "$(dirname "$pins")" && chmod 0700 "$(dirname "$pins")"
    (umask 077
     printf 'SITEKIT_PKCS11_PIN=%s\nSITEKIT_PKCS11_SO_PIN=%s\n' \
       "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" \
       > "$pins.tmp" && mv "$pins.tmp" "$pins")
  fi
  set -a; . "$pins"; set +a
fi
sitekit keys init "$cc"
sitekit keys status "$cc"
step "harden the lab hosts and install their keys (playbooks/site.yml over real SSH)"
# its last play starts the AIDE baseline build; wait for it, since verify follows at once (SK-FIM-001)
ansible-playbook -i "$inventory" playbooks/site.yml -e baseline_aide_wait_for_build=true
step "verify every control on every lab host (testinfra over SSH; evidence as JSON and JUnit)"
sitekit verify "$cc" --lab
step "start $cc's lab control plane: etcd, kube-apiserver, controllers, kwok nodes (certificates from $cc's CAs)"
sitekit lab up "$cc" --tier cluster
step "pulumi up of $cc's stack against it (engine built from Go, self-managed backend, policy pack on)"
sitekit lab deploy "$cc"
step "who holds which power over $cc: RBAC, SSH principals and sudo, key custody, paths out (no secret read)"
sitekit access "$cc" --inventory "$inventory"
step "the operations journal: sign a checkpoint, then check every record with the public key only"
sitekit journal checkpoint "$cc"
env -u SITEKIT_PKCS11_PIN -u SITEKIT_PKCS11_SO_PIN sitekit journal verify "$cc"
step "write $cc's signed assurance pack (OSCAL, evidence, access map, journal checkpoint) and check it offline"
sitekit pack "$cc" --out "$state/packs"
sitekit pack verify "$state/packs/$cc-pack.tar.gz" --key "$state/keys/$cc/signing/model-signing.pub.pem"
step "write the fleet page (one self-contained HTML file)"
sitekit report --html "$state/report" >/dev/null
printf '\npack: %s (and %s)\nfleet page: %s\n' "$state/packs/$cc-pack" "$state/packs/$cc-pack.tar.gz" "$state/report/fleet.html"
printf '\nThe lab is still running: ssh -F %s %s-cp-1; KUBECONFIG=%s; remove it with: %s/.venv/bin/sitekit lab down %s\n' \
  "$state/lab/$cc/ssh_config" "$cc" "$state/lab/$cc/cluster/kubeconfig" "$PWD" "$cc"
# What a new shell needs to carry on where the demo stopped (the PIN file's path, never the PIN).
printf '\nTo work with it from a new shell (README, "After the demo"):\n'
printf '  cd %q && . .venv/bin/activate\n' "$PWD"
printf '  export SITEKIT_STATE=%q\n' "$state"
if [ -f "$pins" ]; then
  printf '  set -a; . %q; set +a    # SITEKIT_PKCS11_PIN, which site.yml needs\n' "$pins"
else
  printf '  export SITEKIT_PKCS11_PIN=...    # the PIN you gave this demo; site.yml needs it\n'
fi
printf '  ansible-playbook -i %q playbooks/site.yml\n' "$inventory"
