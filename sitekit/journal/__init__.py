"""The country's tamper-evident operations journal.

Every state-changing `sitekit` command, and every Ansible play through the shipped callback plugin, appends
one record to `$SITEKIT_STATE/journal/<cc>/journal.jsonl`. Records are hash-chained; signed checkpoints
(record count and head hash, signed with the country's signing key) anchor the chain so that anyone holding
the public key can check, without trusting the operator, that nothing behind a checkpoint was edited,
removed, reordered or cut off. See the README's "Oversight" section.
"""

from __future__ import annotations

from sitekit.journal.store import Journal, JournalError

__all__ = ["Journal", "JournalError"]
