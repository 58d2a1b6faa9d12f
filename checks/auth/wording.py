"""What several auth modules say alike: why a request got no answer, and the
redaction of a message's parameters. Messages (``scanner.messages``), so that a report in any
language joins a list with its own "and", and never shows an English fragment inside its sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from checks.auth.forms import replace_all
from checks.http.api import Fetch
from scanner.messages import Message, Param, say


def distinct(messages: Iterable[Message]) -> list[Message]:
    """``messages`` without repeats (same sentence), in order: a message holds a dict, so it is not hashable."""
    kept: dict[str, Message] = {}
    for message in messages:
        kept.setdefault(str(message), message)
    return list(kept.values())


def no_response() -> Message:
    return say("auth.error.no_response", "no response")


def fetch_failure(fetch: Fetch) -> Message:
    """Why ``fetch`` has no (final) response, as the http family says it (plain text only in facts built by
    hand, which is then data)."""
    if fetch.error is None:
        return no_response()
    reason = fetch.error.reason
    return reason if isinstance(reason, Message) else say("auth.error.fetch", "{error}", error=reason)


def redacted(message: Message, secret: Sequence[str]) -> Message:
    """``message`` with every secret replaced in its parameters (the templates are the checks' own text)."""
    if not secret:
        return message
    return Message(message.id, message.text, {name: _redacted(value, secret) for name, value in message.params.items()})


def _redacted(value: Param, secret: Sequence[str]) -> Param:
    if isinstance(value, Message):
        return redacted(value, secret)
    if isinstance(value, str):
        return replace_all(value, secret)
    if isinstance(value, (int, float)):
        return value
    return tuple(replace_all(item, secret) for item in value)
