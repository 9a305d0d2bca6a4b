"""Key parity between a served payload and a recorded GitHub sample."""

from __future__ import annotations

from typing import Any


def key_differences(payload: Any, sample: Any, path: str = "$") -> list[str]:
    """Where the key sets differ, recursively: "missing $.head.repo.license" (in the sample,
    not served) or "extra $.user.user_view_type". Lists compare their first items; a null on
    either side is not descended into (GitHub sends null for absent objects)."""
    if isinstance(payload, dict) and isinstance(sample, dict):
        diffs = [f"missing {path}.{k}" for k in sample if k not in payload]
        diffs += [f"extra {path}.{k}" for k in payload if k not in sample]
        for key in sample.keys() & payload.keys():
            diffs += key_differences(payload[key], sample[key], f"{path}.{key}")
        return diffs
    if isinstance(payload, list) and isinstance(sample, list) and payload and sample:
        return key_differences(payload[0], sample[0], f"{path}[0]")
    return []


def sample_keys_match(payload: Any, sample: Any) -> bool:
    return not key_differences(payload, sample)
