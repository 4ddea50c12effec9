"""Simulated customers generated from the template files, seeded and deterministic.

Two template files with the same structure: ``templates/tuning.yml`` (look at it, tune the bot on
the failures it shows) and ``templates/heldout.yml`` (never tune on it: it measures whether the
bot holds up for customers in general; docs/training.md). Each language's section has pools of
wordings (openings per flow, one-shot openings, answers per question, survey answers, off-topic
messages); a profile draws from them with its own seeded random generator, so the same seed gives
the same conversations.

Styles (a profile's ``tags``): ``oneshot`` (the opening carries several slots), ``lower``
(lower case without punctuation), ``typos``, ``neutral`` (language-neutral answers: a plate,
digits, an e-mail, "ok"), ``numberwords`` (mileage and scores in words), ``digression`` (an
unrelated question in the middle of a form), ``correction`` (a wrong day, corrected at the
summary), ``buttons`` (taps the buttons).

Dates in the templates are relative to :data:`SIM_NOW`, the frozen clock of the simulated stack.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from dealer.i18n import LANGUAGES
from trainer.simulate.customer import Answer, Profile

TEMPLATES = Path(__file__).with_name("templates")
TUNING = TEMPLATES / "tuning.yml"
HELD_OUT = TEMPLATES / "heldout.yml"
# Monday 23 November 2026, 09:00 in Amsterdam (the e2e tests' clock): "morgen" is Tuesday 24.
SIM_NOW = "2026-11-23T09:00:00+01:00"
FORM_FLOWS = ("book", "move", "cancel", "test_drive", "trade_in", "financing")
FLOWS = (
    "book", "move", "cancel", "test_drive", "trade_in", "financing", "stock", "price", "hours",
    "location", "handoff", "erase", "survey", "off_topic",
)  # fmt: skip
# Conversation outcome (core.engagement) each flow must reach.
OUTCOMES = {
    "book": "appointment_booked", "move": "appointment_changed",
    "cancel": "appointment_cancelled", "test_drive": "test_drive_booked",
    "trade_in": "lead_created", "financing": "lead_created", "stock": "self_served",
    "price": "self_served", "hours": "self_served", "location": "self_served",
    "handoff": "handed_off", "erase": None, "survey": "self_served", "off_topic": "out_of_scope",
}  # fmt: skip
# A reply each information flow must have given (any one of the names).
EXPECTED_REPLIES = {
    "stock": ("utter_stock_results", "utter_stock_none"),
    "price": ("utter_price",),
    "hours": ("utter_hours_day", "utter_hours_week", "utter_hours_holiday"),
    "location": ("utter_location",),
    "erase": ("utter_data_deleted",),
    "survey": ("utter_survey_thanks", "utter_goodbye"),
}
# Replies that tell the customer the request was done (it then stops asking for it).
GOALS = {
    "book": ("utter_appointment_booked",), "move": ("utter_appointment_rescheduled",),
    "cancel": ("utter_appointment_cancelled",), "test_drive": ("utter_test_drive_booked",),
    "trade_in": ("utter_trade_in_lead",), "financing": ("utter_callback_lead",),
    "handoff": ("utter_handoff_open", "utter_handoff_closed", "utter_handoff_closed_callback"),
    "stock": EXPECTED_REPLIES["stock"], "price": EXPECTED_REPLIES["price"],
    "hours": EXPECTED_REPLIES["hours"], "location": EXPECTED_REPLIES["location"],
    "erase": EXPECTED_REPLIES["erase"],
    "survey": (*EXPECTED_REPLIES["hours"], *EXPECTED_REPLIES["location"],
               *EXPECTED_REPLIES["stock"]),
    "off_topic": (),
}  # fmt: skip
STYLES = {
    "book": ("plain", "oneshot", "neutral", "numberwords", "digression", "correction", "buttons",
             "typos"),
    "move": ("plain", "oneshot", "neutral", "digression", "buttons", "typos"),
    "cancel": ("plain", "oneshot", "neutral", "buttons", "typos"),
    "test_drive": ("plain", "oneshot", "neutral", "digression", "typos"),
    "trade_in": ("plain", "oneshot", "numberwords", "neutral", "digression", "typos"),
    "financing": ("plain", "buttons", "neutral", "typos"),
    "survey": ("plain", "numberwords", "typos"),
}  # fmt: skip
DEFAULT_STYLES = ("plain", "typos")
# Plates: Dutch side codes 8 (99-XXX-9), 9 (9-XXX-99), 10 (XX-999-X), 11 (XXX-99-X); letters
# as the RDW issues them (no vowels, no C or Q).
PLATE_SHAPES = ("DD-LLL-D", "D-LLL-DD", "LL-DDD-L", "LLL-DD-L")
PLATE_LETTERS = "BDFGHJKLNPRSTVXZ"


@dataclass(frozen=True)
class Seed:
    """An appointment booked before the conversation (for move and cancel)."""

    plate: str
    service_id: str
    starts_at: dt.datetime
    name: str
    phone: str | None
    email: str | None
    language: str


def load_templates(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    missing = [lang for lang in LANGUAGES if lang not in data]
    if missing:
        raise ValueError(f"{path}: no section for {', '.join(missing)}")
    return data


def make_plate(rng: random.Random) -> str:
    shape = rng.choice(PLATE_SHAPES)
    return "".join(
        rng.choice(PLATE_LETTERS) if c == "L" else str(rng.randint(1, 9)) if c == "D" else c
        for c in shape
    )


def lower_no_punctuation(text: str) -> str:
    """How many people type in a chat: lower case, no full stops, commas or question marks.
    Plates, e-mail addresses and phone numbers keep their dashes, dots and @."""
    text = text.lower()
    text = re.sub(r"[,!?;](?=\s|$)", "", text)
    return re.sub(r"\.(?=\s|$)", "", text).strip()


def add_typo(text: str, rng: random.Random) -> str:
    """Swap two letters inside one longer word (not in plates, addresses or numbers)."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randint(1, len(w) - 3)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def e164(phone: str) -> str:
    """The number a template's phone stands for: Dutch, but a national 07 (UK mobile) or 04
    (Belgian mobile) is from across the border."""
    region = {"07": "GB", "04": "BE"}.get(phone[:2], "NL")
    return phonenumbers.format_number(
        phonenumbers.parse(phone, region), phonenumbers.PhoneNumberFormat.E164
    )


class Generator:
    """Profiles for one template file."""

    def __init__(self, templates: dict[str, Any], seed: int = 16, held_out: bool = False) -> None:
        self.templates = templates
        self.seed = seed
        self.set_name = "heldout" if held_out else "tuning"
        self.seeds: dict[str, Seed] = {}  # profile id -> appointment to book first
        self._seed_slots = 0
        self._plates: set[str] = set()

    def profiles(self, per_language: int = 200) -> list[Profile]:
        result = []
        for lang in LANGUAGES:
            for i in range(per_language):
                flow = FLOWS[i % len(FLOWS)]
                result.append(self.profile(lang, flow, i))
        return result

    def _seed_time(self) -> dt.datetime:
        """Seed appointments Monday to Thursday 7 to 10 December, on the hour, two per hour
        (the workshop's capacity), apart from the times the templates use."""
        k = self._seed_slots
        self._seed_slots += 1
        day, hour = (k // 2) % 4, 8 + (k // 8) % 8
        return dt.datetime.fromisoformat(f"2026-12-{7 + day:02d}T{hour:02d}:00:00+01:00")

    def profile(self, lang: str, flow: str, index: int) -> Profile:
        t = self.templates[lang]
        rng = random.Random(f"{self.seed}-{self.set_name}-{lang}-{flow}-{index}")
        style_list = STYLES.get(flow, DEFAULT_STYLES)
        style = style_list[(index // len(FLOWS)) % len(style_list)]
        tags = {style}
        if rng.random() < 0.35:
            tags.add("lower")
        pid = f"sim-{self.set_name[0]}{index:03d}-{lang}-{flow}"

        plate = make_plate(rng)
        while plate in self._plates:  # one car per customer: move and cancel find it by plate
            plate = make_plate(rng)
        self._plates.add(plate)
        name = rng.choice(t["names"])
        use_phone = rng.random() < 0.5
        phone = rng.choice(t["phones"]).format(n=f"{rng.randint(0, 9999):04d}")
        email = rng.choice(t["emails"]).format(first=name.split()[0].lower(), n=rng.randint(1, 99))
        contact_text = phone if use_phone else email
        service_id = rng.choice(sorted(t["services"]))
        service = t["services"][service_id]
        mileage = rng.choice(t["mileages"])
        times = t["drive_times"] if flow == "test_drive" else t["times"]
        when = rng.choice(times)
        car = rng.choice(t["cars"])
        neutral = "neutral" in tags

        def say(pool: list[str]) -> str:
            return rng.choice(pool)

        values = {
            "greeting": say(t["greetings"]),
            "service": say(service["neutral"] if neutral else service["words"]),
            "plate": plate if rng.random() < 0.6 else plate.lower(),
            "km": say(mileage["words"] if "numberwords" in tags else mileage["say"]),
            "when": say(when["say"]),
            "car": say(car["say"]),
            "name": name,
            "contact": contact_text,
        }
        # optional (the held-out set has none): drawing only when present keeps its samples
        phrasings = t.get("contact_phrasings", {}).get("phone" if use_phone else "email")
        contact_say = say(phrasings).format(contact=contact_text) if phrasings else contact_text
        plate_text = plate if neutral else say(t["plate_phrasings"]).format(plate=values["plate"])
        answers = {
            "service": Answer(values["service"], service["neutral"][0]),
            "plate": Answer(plate_text, plate),
            "mileage": Answer(str(mileage["km"]) if neutral else values["km"], str(mileage["km"])),
            "when": Answer(when["neutral"] if neutral else values["when"], when["neutral"]),
            "name": Answer(name if neutral else say(t["name_phrasings"]).format(name=name), name),
            "contact": Answer(contact_say, contact_text),
            "car": Answer(car["model"] if neutral else values["car"], car["model"]),
            "condition": Answer(say(t["conditions"])),
            "yes": Answer("ok" if neutral else say(t["affirm"]), t["affirm"][0]),
            "no": Answer(say(t["deny"]), t["deny"][0]),
            "no_more": Answer(say(t["no_more"])),
            "change_field": Answer(say(t["change_time"]), t["change_time"][0]),
        }

        flow_t = t["flows"][flow]
        oneshot = style == "oneshot" and flow_t.get("oneshot")
        pool = flow_t["oneshot"] if oneshot else flow_t["openings"]
        template = say(pool)
        opening = template.format(**values)
        given = frozenset(
            {"plate": "plate", "service": "service", "km": "mileage", "when": "when",
             "car": "car", "name": "name", "contact": "contact"}[key]
            for key in re.findall(r"\{(\w+)\}", template) if key != "greeting"
        )  # fmt: skip
        follow_ups = [s.format(**values) for s in say(flow_t.get("follow_ups") or [[]])]
        if flow == "off_topic":
            first, second = rng.sample(t["off_topic"], 2)
            opening, follow_ups = first, [second]

        profile = Profile(
            id=pid, flow=flow, language=lang, opening=opening, answers=answers, given=given,
            follow_ups=follow_ups, rephrase=flow_t.get("rephrase"),
            wants_offer=flow == "financing", click_buttons=style == "buttons", goal=GOALS[flow],
        )  # fmt: skip
        # Survey: everyone answers it, some skip it, the survey flow always answers fully.
        survey_roll = rng.random()
        if flow == "survey" or survey_roll < 0.6:
            scores = t["csat_words"] if "numberwords" in tags else t["csat"]
            csat = rng.choice(scores)
            ces = rng.choice(t["ces_words"] if "numberwords" in tags else t["ces"])
            nps = rng.randint(6, 10)
            profile.survey = {
                "csat": (csat["say"], csat["score"]),
                "ces": (ces["say"], ces["score"]),
                "nps": (str(nps), nps),
            }
            if flow == "survey" or rng.random() < 0.5:
                profile.survey["comment"] = say(t["comments"])
        else:
            profile.survey_stop = say(t["survey_stops"])
        if flow in ("stock", "price", "hours", "location", "survey"):
            profile.goodbye = say(t["goodbyes"])
        if style == "digression":
            field = rng.choice([f for f in ("plate", "when", "name", "contact")
                                if f in FIELDS_OF[flow] and f not in given])  # fmt: skip
            profile.digression = (field, say(t["digressions"]))
        if style == "correction":
            wrong = rng.choice([w for w in t["times"] if w["at"][:10] != when["at"][:10]])
            profile.correction = (
                say(wrong["say"]),
                say(t["corrections"]).format(wrong=wrong["day"], right=when["day_time"]),
            )
            answers["when"] = Answer(values["when"], when["neutral"])
        if "typos" in tags:
            profile.opening = add_typo(profile.opening, rng)
            for key in ("service", "condition", "no_more"):
                answers[key] = Answer(add_typo(answers[key].text, rng), answers[key].plain)
        if "lower" in tags:
            profile.opening = lower_no_punctuation(profile.opening)
            profile.follow_ups = [lower_no_punctuation(s) for s in profile.follow_ups]
            for key, answer in answers.items():
                if key != "contact":
                    answers[key] = Answer(lower_no_punctuation(answer.text), answer.plain)
        profile.tags = tuple(sorted(tags))

        expect: dict[str, Any] = {"outcome": OUTCOMES[flow]}
        contact = {"phone": e164(phone)} if use_phone else {"email": email.lower()}
        contact["name"] = name
        if flow == "book":
            expect["appointment"] = {
                "plate": plate, "service_id": service_id, "mileage_km": mileage["km"],
                "at": when["at"], **contact,
            }  # fmt: skip
        elif flow in ("move", "cancel"):
            self.seeds[pid] = Seed(plate, "apk", self._seed_time(), name,
                                   contact.get("phone"), contact.get("email"), lang)  # fmt: skip
            expect["appointment"] = {"plate": plate,
                                     "status": "booked" if flow == "move" else "cancelled",
                                     "at": when["at"] if flow == "move" else None}  # fmt: skip
        elif flow == "test_drive":
            expect["lead"] = {"kind": "test_drive", "model": car["model"], **contact}
        elif flow == "trade_in":
            expect["lead"] = {"kind": "trade_in", "plate": plate, "mileage_km": mileage["km"],
                              **contact}  # fmt: skip
        elif flow == "financing":
            expect["lead"] = {"kind": "financing", **contact}
        elif flow == "handoff":
            expect["lead"] = {"kind": "handoff"}  # no name or contact asked
        if flow in EXPECTED_REPLIES:
            expect["replies"] = EXPECTED_REPLIES[flow]
        profile.expect = expect
        return profile


# The fields each flow's form asks for (a digression goes into one of them).
FIELDS_OF = {
    "book": ("service", "plate", "mileage", "when", "name", "contact"),
    "move": ("plate", "contact", "when"),
    "cancel": ("plate", "contact"),
    "test_drive": ("car", "when", "name", "contact"),
    "trade_in": ("plate", "mileage", "condition", "name", "contact"),
    "financing": ("name", "contact"),
}


def generate(
    held_out: bool = False, per_language: int = 200, seed: int = 16, path: Path | None = None
) -> tuple[list[Profile], dict[str, Seed]]:
    """The profiles of one template set and the appointments to book before them."""
    templates = load_templates(path or (HELD_OUT if held_out else TUNING))
    generator = Generator(templates, seed, held_out)
    profiles = generator.profiles(per_language)
    return profiles, generator.seeds


def sample(profiles: list[Profile], n: int | None, seed: int = 16) -> list[Profile]:
    """``n`` profiles spread evenly over languages and flows, styles drawn at random with
    ``seed`` (all profiles when ``n`` is None)."""
    if not n or n >= len(profiles):
        return profiles
    by_group: dict[tuple[str, str], list[Profile]] = {}
    for p in profiles:
        by_group.setdefault((p.language, p.flow), []).append(p)
    rng = random.Random(seed)
    for group in by_group.values():
        rng.shuffle(group)  # a mix of styles, not the first ones of each flow
    picked: list[Profile] = []
    rounds = 0
    while len(picked) < n:
        for group in by_group.values():
            if rounds < len(group) and len(picked) < n:
                picked.append(group[rounds])
        rounds += 1
    order = {p.id: i for i, p in enumerate(profiles)}
    return sorted(picked, key=lambda p: order[p.id])


__all__ = ["generate", "sample", "Generator", "Seed", "SIM_NOW", "FLOWS"]
