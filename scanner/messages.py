"""The sentences checks say, by message id with parameters, so that any stored result renders in
any language the families translate.

A check says ``say("tls.protocol_legacy.accepted", "{versions} accepted", versions="TLS 1.0")``:
the id names the sentence (prefixed with the family's name), the English template is what the
result's ``detail`` holds, and the parameters are data: names, numbers, versions, values a server
sent. A parameter that is itself prose is a nested message, never an English string, or the
Vietnamese report would show English inside a Vietnamese sentence.

A family's ``translations/<lang>.toml`` holds ``[messages]``: id -> template in that language
with the same placeholders. A missing translation falls back to the English template, so a new
message never breaks a report; the contract tests list what is untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

#: What a message may carry: data, or a nested message (prose, rendered in the same language).
Param = Union[str, int, float, Sequence[str], "Message"]
#: A sentence for a report: a message, or plain text where no language applies (data alone).
Text = Union[str, "Message"]

# "{{" and "}}" are literal braces; anything else in braces is a placeholder, with an optional format spec.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\w+)(?::([^{}]*))?\}")
MESSAGE_ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


class MessageError(ValueError):
    """A message whose parameters do not fit its template: a programming error in a check."""


def placeholders(template: str) -> frozenset[str]:
    """The parameter names a template uses."""
    return frozenset(match.group(1) for match in _PLACEHOLDER.finditer(template) if match.group(1))


@dataclass(frozen=True)
class Message:
    """One sentence: ``id`` names it, ``text`` is its English template, ``params`` fill it.

    ``str(message)`` is the English sentence (a result's ``detail``); ``render`` gives it in
    another language from that language's templates.
    """

    id: str
    text: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.render({})

    def render(self, templates: Mapping[str, str]) -> str:
        """The sentence with ``templates`` (id -> template, one language); English where one lacks."""
        template = templates.get(self.id, self.text)
        if placeholders(template) != placeholders(self.text):
            template = self.text  # a translation that lost or invented a placeholder is not used
        return _fill(template, self.params, templates)

    def nested(self) -> Iterator[Message]:
        """This message and every message in its parameters, depth first."""
        yield self
        for value in self.params.values():
            if isinstance(value, Message):
                yield from value.nested()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "params": {k: _param_json(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """A stored message; raises ``MessageError`` for one that is not (a hand-edited database)."""
        try:
            params = {str(k): _param_from_json(v) for k, v in dict(data.get("params") or {}).items()}
            return cls(str(data["id"]), str(data["text"]), params)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MessageError(f"not a stored message: {exc}") from None


def has_words(template: str) -> bool:
    """Whether a template says something of its own: "{first}, {rest}" and "{error}" only join data,
    and read the same in every language."""
    return re.search(r"[^\W\d_]", _PLACEHOLDER.sub("", template)) is not None


def say(message_id: str, text: str, **params: Param) -> Message:
    """The message ``message_id`` with English ``text`` and ``params``; refuses parameters the
    template does not use, or a placeholder without its parameter."""
    if not MESSAGE_ID.fullmatch(message_id):
        raise MessageError(f"message id {message_id!r}: expected family.name[.more], lower case")
    missing, unused = placeholders(text) - params.keys(), params.keys() - placeholders(text)
    if missing or unused:
        raise MessageError(f"message {message_id}: missing {sorted(missing)}, unused {sorted(unused)}")
    return Message(message_id, text, {name: _frozen(value) for name, value in params.items()})


def _frozen(value: Param) -> Param:
    """A list parameter as a tuple of strings: a message is immutable and equal to its stored form."""
    if isinstance(value, (str, int, float, Message)):
        return value
    return tuple(str(item) for item in value)


def render_detail(detail: str, message: Message | None, templates: Mapping[str, str]) -> str:
    """A result's sentence in the language of ``templates``: its message rendered, else the stored
    ``detail`` (a result from a check that says no message, or stored before messages)."""
    return detail if message is None else message.render(templates)


def _fill(template: str, params: Mapping[str, Param], templates: Mapping[str, str]) -> str:
    # One pass over the template: a value (a server's header, say) that contains "{x}" stays as it is.
    def value(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2)
        if name is None:
            return match.group(0)[0]
        param = params[name]
        if isinstance(param, Message):
            return param.render(templates)
        if isinstance(param, (int, float)) and spec:
            return format(param, spec)
        if isinstance(param, (str, int, float)):
            return str(param)
        return ", ".join(map(str, param))

    return _PLACEHOLDER.sub(value, template)


def _param_json(value: Param) -> Any:
    if isinstance(value, Message):
        return {"message": value.to_json()}
    if isinstance(value, (str, int, float)):
        return value
    return [str(item) for item in value]


def _param_from_json(value: Any) -> Param:
    if isinstance(value, dict):
        return Message.from_json(value["message"])
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    raise TypeError(f"unexpected parameter {value!r}")
