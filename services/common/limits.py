"""Per-message budgets shared by the stages: what one message may weigh on a topic."""

from __future__ import annotations

from services.common.kafka import MAX_MESSAGE_BYTES

MESSAGE_HEADROOM_BYTES = 64 * 1024
"""Room left under the broker's limit for the record's key, headers and batch framing."""

MAX_VALUE_BYTES = MAX_MESSAGE_BYTES - MESSAGE_HEADROOM_BYTES
"""The largest message value a stage may send."""
