"""What a partner's webhook receives and how it can trust it: event names, the signature, the retry schedule.

A delivery is signed as Stripe's are, so partners' developers find a known recipe:
`Homeward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one `v1=` per valid secret
(two while a secret is being rotated: the partner may check either). Pure functions: no I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from datetime import UTC, datetime, timedelta
from typing import Any

EVENTS = ("candidate.approved", "outcome.recorded", "found_person.closed", "case.closed")
SIGNATURE_HEADER = "Homeward-Signature"
# Seconds to wait after the 1st, 2nd, ... failed try, doubling; the last figure repeats until GIVE_UP_AFTER. Short
# at first: a partner failing one request in five still has nearly every event within a minute (bench hooks).
BACKOFF_S = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600)
GIVE_UP_AFTER = timedelta(hours=24)


class HookRefused(ValueError):
    """An endpoint that may not be registered (its URL, its events): the message says what to change."""


def check_events(events: list[str]) -> list[str]:
    """The events asked for, each once and known; HookRefused naming the unknown ones."""
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise HookRefused(f"events must be among {', '.join(EVENTS)} (got {', '.join(unknown) or 'none'})")
    return [event for event in EVENTS if event in events]


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local, multicast or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def event_body(event_id: str, kind: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON body of an event: written once and sent byte for byte on every retry."""
    body = {"id": event_id, "type": kind, "occurred_at": rfc3339(occurred_at), "data": data}
    return json.dumps(body, ensure_ascii=False)


def rfc3339(moment: datetime | None) -> str | None:
    """A time as partners expect it: RFC 3339 in UTC to the second (MongoDB's naive datetimes are UTC)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def signature(secrets: list[str], body: str, now: int) -> str:
    """The `Homeward-Signature` header's value: the time and one v1 signature per secret."""
    signed = f"{now}.{body}".encode()
    macs = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets]
    return ",".join([f"t={now}", *(f"v1={mac}" for mac in macs)])


def verify(secret: str, header: str, body: str, now: int, tolerance_s: int = 300) -> bool:
    """Whether `header` holds a signature of `body` by `secret`, made within `tolerance_s`: what a partner runs."""
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for key, value in parts if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance_s:
        return False
    expected = signature([secret], body, int(stamps[0])).split(",")[1].removeprefix("v1=")
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in parts)


def next_try(attempts: int, first_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries; None once GIVE_UP_AFTER has passed since the first."""
    when = now + timedelta(seconds=BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1])
    return when if when - first_at <= GIVE_UP_AFTER else None
