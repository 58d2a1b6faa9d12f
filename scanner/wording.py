"""How every family's sentences join lists, in any language.

``scanner.evidence.listing`` builds English ("a, b and c"); inside a message the "and" must be
said in the report's language, and a list of sentences must stay messages. The English is the
same as ``listing``'s. One place for every family: the core's ``scan.list.*`` messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.evidence import MAX_DETAIL_ITEMS
from scanner.messages import Param, Text, say


def listed(items: Sequence[Text], limit: int = MAX_DETAIL_ITEMS) -> Text:
    """'a, b and c' of data or messages; a long list ends in '… (N more)'."""
    values = list(items)
    if len(values) > limit:
        return say("scan.list.more", "{items}, … ({more} more)", items=commas(values[:limit]), more=len(values) - limit)
    if not values:
        return ""
    if len(values) == 1:
        return values[0]
    return say("scan.list.and", "{items} and {last}", items=commas(values[:-1]), last=values[-1])


def semicolons(items: Sequence[Text]) -> Text:
    """'a; b; c': sentences that each stand alone."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return say("scan.list.semicolon", "{first}; {rest}", first=items[0], rest=semicolons(items[1:]))


def commas(values: Sequence[Text]) -> Param:
    """'a, b, c' of data or messages."""
    data = [value for value in values if isinstance(value, str)]
    if len(data) == len(values):
        return tuple(data)  # data renders joined with ", " in every language
    if len(values) == 1:
        return values[0]
    return say("scan.list.comma", "{first}, {rest}", first=values[0], rest=commas(values[1:]))


def sentences(first: Text, *more: Text | None) -> Text:
    """Sentences one after another ("A. B."); None and empty ones are left out."""
    rest = [sentence for sentence in more if sentence]
    if not rest:
        return first
    return say("scan.sentences", "{first} {next}", first=first, next=sentences(rest[0], *rest[1:]))
