"""Per-field limits on what the API and the importers accept: the one place they are set.

Every limit bounds the work and memory one request or one row can cause (a 5 MB user id once made
the users page 10.5 MB; 300,000 tags in one profile edit held the single writer for 17 minutes).
:mod:`mediarec.records` enforces them on every item and event, so the API, every importer and
ingest refuse the same rows; the API's request models repeat them in the OpenAPI schema, so a
client sees the contract. The README's "Limits" table mirrors this one.

=========================  ==============  ===================================================
field                      limit           where
=========================  ==============  ===================================================
user id, item id           256 characters  events, items, profile and dashboard requests
item title                 1,000 chars     items
item creator               256 chars       items
item uri                   4,096 chars     items
item metadata              64 KiB as JSON  items (keys and values together)
item tags                  1,000 entries   ``metadata.tags``
event comment              5,000 chars     events
event timestamp            0 .. 2100-01-01 events (seconds since the epoch, UTC)
items in one POST          1,000           ``POST /items``
events in one batch        10,000          ``POST /interactions/batch``
profile tags per edit      100 each        ``add_tags`` / ``remove_tags``, 100 chars per tag
profile tags kept          500 each        added / removed tags stored for one user
profile text               20,000 chars    raw; 80 words and 700 characters once cleaned
text filters               200 chars       ``q``, ``creator`` query parameters
=========================  ==============  ===================================================

Text must also be valid Unicode without NUL characters: a lone surrogate (``"\\ud83d"`` as a JSON
escape) cannot be stored in SQLite's UTF-8, and a NUL truncates ids in NumPy string arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 1_000
MAX_CREATOR_CHARS = 256
MAX_URI_CHARS = 4_096
MAX_METADATA_BYTES = 64 * 1024
MAX_ITEM_TAGS = 1_000
MAX_COMMENT_CHARS = 5_000
# Behaviour before the epoch or after 2100 is a unit mistake (milliseconds) or garbage; one such
# event would also move the trending window, which counts back from the newest event.
MIN_TIMESTAMP = 0.0
MAX_TIMESTAMP = 4_102_444_800.0  # 2100-01-01T00:00:00Z
MAX_ITEMS_PER_POST = 1_000
MAX_EVENTS_PER_BATCH = 10_000
MAX_EDIT_TAGS = 100
MAX_TAG_CHARS = 100
MAX_KEPT_PROFILE_TAGS = 500
# Raw profile text before whitespace is folded; the 80-word / 700-character rule applies after.
MAX_PROFILE_TEXT_CHARS = 20_000
MAX_FILTER_CHARS = 200


class LimitError(ValueError):
    """A value beyond its limit; the message names the field. Records turn it into a RecordError."""


def check_text(value: str | None, field: str, max_chars: int) -> None:
    """Refuse text that is too long, holds a NUL, or is not encodable as UTF-8."""
    if value is None:
        return
    if not isinstance(value, str):  # ids some importers pass as numbers
        value = str(value)
    if len(value) > max_chars:
        raise LimitError(f"{field} is {len(value):,} characters long; the limit is {max_chars:,}")
    if "\x00" in value:
        raise LimitError(f"{field} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LimitError(f"{field} is not valid Unicode (a lone surrogate such as \\ud83d)") from None


def check_metadata(metadata: Mapping[str, Any], field: str = "metadata") -> None:
    """Refuse metadata over :data:`MAX_METADATA_BYTES` as JSON, with invalid text, or too many tags."""
    tags = metadata.get("tags")
    if isinstance(tags, list | tuple) and len(tags) > MAX_ITEM_TAGS:
        raise LimitError(f"{field}.tags has {len(tags):,} entries; the limit is {MAX_ITEM_TAGS:,}")
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise LimitError(f"{field} holds text that is not valid Unicode (a lone surrogate)") from None
    except (TypeError, ValueError) as exc:  # circular or non-string keys: not JSON at all
        raise LimitError(f"{field} is not a JSON object: {exc}") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise LimitError(f"{field} is {len(encoded):,} bytes as JSON; the limit is {MAX_METADATA_BYTES:,}")
    if b"\\u0000" in encoded:
        raise LimitError(f"{field} contains a NUL character")


def check_timestamp(ts: float, field: str = "timestamp") -> None:
    if not MIN_TIMESTAMP <= ts < MAX_TIMESTAMP:
        raise LimitError(
            f"{field} {ts!r} is outside 0 .. {MAX_TIMESTAMP:.0f} (1970 to 2100, in seconds since the "
            "epoch; milliseconds are a common mistake)"
        )
