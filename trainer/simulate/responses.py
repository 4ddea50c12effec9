"""Which domain response a bot reply is, and in which language.

The REST channel returns only the text and the buttons of each reply, not the response name.
Every reply the bot sends is a response of ``bot/domain`` (the actions utter by name), so a reply
is identified by matching its text against the response templates, placeholders as wildcards.
The language of a reply is the language of the response variation that matched (the variation
with ``condition: language = en`` is English, the one without a condition the default, Dutch):
no second language detector. The catalogue is read from the domain at run time, so responses
that the bot gains later are recognised without changes here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.settings import REPO_ROOT

DOMAIN_DIR = REPO_ROOT / "bot" / "domain"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_LANGUAGE = "nl"  # the `language` slot's initial value (bot/domain/core.yml)


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    pattern: re.Pattern
    literal_chars: int  # how specific the template is: more fixed text wins a tie


@dataclass(frozen=True)
class Reply:
    """One bot message as the customer sees it, with the response it was made from."""

    text: str
    buttons: tuple[tuple[str, str], ...]  # (title, payload)
    name: str | None  # None: the text matches no response of the domain
    language: str | None


def _variant_language(variant: dict) -> str:
    for condition in variant.get("condition") or ():
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition.get("value"))
    return DEFAULT_LANGUAGE


def compile_template(text: str) -> tuple[re.Pattern, int]:
    """A response text as a regular expression: placeholders match any text (also newlines)."""
    chunks = _PLACEHOLDER.split(text)[::2]  # the literal text between the placeholders
    literal = sum(len(chunk) for chunk in chunks)
    # A placeholder filled with nothing leaves its neighbouring space at the edge of the text,
    # where it is stripped ("{when} is fully booked." arrives as "is fully booked."): spaces
    # next to a placeholder are optional.
    last = len(chunks) - 1
    trimmed = [chunk.lstrip(" ") if i else chunk for i, chunk in enumerate(chunks)]
    trimmed = [chunk.rstrip(" ") if i < last else chunk for i, chunk in enumerate(trimmed)]
    pattern = r"\s*.*?\s*".join(re.escape(chunk) for chunk in trimmed)
    return re.compile(pattern, re.DOTALL), literal


class Catalog:
    """Every response variation of the domain, for identifying replies."""

    def __init__(self, responses: dict[str, list[dict]]) -> None:
        self.templates: list[Template] = []
        for name, variants in responses.items():
            for variant in variants or ():
                text = variant.get("text")
                if not text:
                    continue
                pattern, literal = compile_template(text.strip())
                self.templates.append(Template(name, _variant_language(variant), pattern, literal))
        self.names = frozenset(responses)

    @classmethod
    def from_domain(cls, domain_dir: Path = DOMAIN_DIR) -> Catalog:
        responses: dict[str, list[dict]] = {}
        for path in sorted(Path(domain_dir).glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            responses.update(data.get("responses") or {})
        return cls(responses)

    def identify(self, text: str) -> tuple[str | None, str | None]:
        """``(response name, language)`` of a reply text; ``(None, None)`` when none matches."""
        text = (text or "").strip()
        best: Template | None = None
        for template in self.templates:
            if template.pattern.fullmatch(text) and (
                best is None or template.literal_chars > best.literal_chars
            ):
                best = template
        return (best.name, best.language) if best else (None, None)

    def replies(self, messages: Iterable[dict]) -> list[Reply]:
        """The REST channel's reply list as :class:`Reply` objects."""
        result = []
        for message in messages:
            text = message.get("text") or ""
            name, language = self.identify(text)
            buttons = tuple(
                (str(b.get("title", "")), str(b.get("payload", "")))
                for b in message.get("buttons") or ()
            )
            result.append(Reply(text, buttons, name, language))
        return result
