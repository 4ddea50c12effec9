"""A simulated customer: a profile, and the answer it gives to each question the bot asks.

The customer reads the bot's replies (identified as domain responses by
:mod:`trainer.simulate.responses`), takes the last question of the turn, and answers it from its
profile in the words it was generated with. A question asked again is answered plainly (as people
do when they were not understood); a question asked too often ends the conversation (a dead end).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from trainer.simulate.responses import Reply

# The question each response asks: the profile field that answers it.
QUESTION_FIELDS = {
    "utter_service_list": "service",
    "utter_invalid_service": "service",
    "utter_ask_plate": "plate",
    "utter_invalid_plate": "plate",
    "utter_ask_reschedule_form_plate": "plate",
    "utter_ask_cancel_form_plate": "plate",
    "utter_ask_trade_in_form_plate": "plate",
    "utter_ask_mileage": "mileage",
    "utter_invalid_mileage": "mileage",
    "utter_ask_appointment_time": "when",
    "utter_ask_test_drive_time": "when",
    "utter_time_unclear": "when",
    "utter_time_invalid_date": "when",
    "utter_nearest_free": "when",
    "utter_time_pick_hour": "when",
    "utter_time_pick_free": "when",
    "utter_slot_past": "when",
    "utter_slot_too_soon": "when",
    "utter_slot_too_far": "when",
    "utter_slot_closed_day": "when",
    "utter_slot_outside_hours": "when",
    "utter_slot_full": "when",
    "utter_slot_taken": "when",
    "utter_ask_customer_name": "name",
    "utter_ask_handoff_contact_form_customer_name": "name",
    "utter_invalid_name": "name",
    "utter_ask_contact": "contact",
    "utter_ask_handoff_contact_form_contact": "contact",
    "utter_ask_reschedule_form_contact": "contact",
    "utter_ask_cancel_form_contact": "contact",
    "utter_invalid_contact": "contact",
    "utter_ask_move_existing": "move_existing",
    "utter_summary_appointment": "confirm",
    "utter_summary_reschedule": "confirm",
    "utter_summary_cancel": "confirm",
    "utter_invalid_confirmation": "confirm",
    "utter_ask_confirm_delete": "confirm",
    "utter_ask_change_field": "change_field",
    "utter_invalid_change_field": "change_field",
    "utter_ask_car": "car",
    "utter_car_choose": "car",
    "utter_car_unknown": "car",
    "utter_ask_trade_in_condition": "condition",
    "utter_invalid_condition": "condition",
    "utter_financing": "offer",
    "utter_stock_none": "offer",
    "utter_ask_csat": "csat",
    "utter_ask_ces": "ces",
    "utter_ask_nps": "nps",
    "utter_ask_survey_comment": "comment",
    "utter_survey_unclear": "survey_again",
    "utter_anything_else": "anything_else",
    "utter_you_are_welcome": "anything_else",
    "utter_form_stopped": "anything_else",
    "utter_survey_skipped": "anything_else",
    "utter_offer_declined": "anything_else",
    "utter_ask_what_else": "anything_else",
}
SURVEY_FIELDS = ("csat", "ces", "nps", "comment")
# "Did not understand" replies: the fallback response (bot/domain/core.yml).
DID_NOT_UNDERSTAND = frozenset({"utter_default"})
# Replies whose buttons are the options left after a refusal (free times, cars).
CHOICES = frozenset({"utter_nearest_free", "utter_time_pick_hour", "utter_car_choose"})
MAX_ASKS = 4  # a question asked this often is a dead end: the customer gives up
# Questions that follow the reason the given answer cannot be used ("Thursday 09:00 is fully
# booked"): asked again, but not as if the opening had not been read.
_EXPLAINED_ASKS = frozenset({"utter_nearest_free"})


@dataclass
class Answer:
    """What the profile says for one field: first wording, and the plain one for a re-ask."""

    text: str
    plain: str | None = None

    def attempt(self, n: int) -> str:
        return self.text if n == 0 or not self.plain else self.plain


@dataclass
class Profile:
    """Everything one simulated customer knows and how it talks."""

    id: str
    flow: str
    language: str
    opening: str
    answers: dict[str, Answer] = field(default_factory=dict)
    given: frozenset[str] = frozenset()  # fields the opening already carries
    follow_ups: list[str] = field(default_factory=list)  # said when the bot asks nothing
    goodbye: str | None = None  # said last, when nothing is asked and nothing is left
    rephrase: str | None = None  # said once when the bot did not act on the request
    goal: tuple[str, ...] = ()  # replies that mean the request was done
    survey: dict[str, Any] | None = None  # {"csat": (text, score), ..., "comment": text}
    survey_stop: str | None = None  # skip the survey with this word
    wants_offer: bool = False  # yes to a call-back offer
    digression: tuple[str, str] | None = None  # (field, text): asked while answering field
    correction: tuple[str, str] | None = None  # (wrong "when" wording, correction at summary)
    click_buttons: bool = False
    tags: tuple[str, ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)  # what must be stored


@dataclass
class Transcript:
    """What happened in one conversation, from the customer's side."""

    profile: Profile
    turns: list[tuple[str, list[Reply]]] = field(default_factory=list)
    asks: Counter = field(default_factory=Counter)  # field -> times asked
    reprompts: Counter = field(default_factory=Counter)  # field -> asks after the first
    redundant: Counter = field(default_factory=Counter)  # asked although the opening had it
    did_not_understand: int = 0
    # the question the message answered ("opening", "none": no question) -> "did not understand"
    not_understood_after: Counter = field(default_factory=Counter)
    wrong_language: int = 0
    unknown_replies: int = 0
    unknown_texts: list[str] = field(default_factory=list)  # replies matching no response
    survey_given: dict[str, Any] = field(default_factory=dict)  # question -> score or comment
    time_flexible: bool = False  # the customer took a time the bot offered
    goal_reached: bool = False
    dead_end: str | None = None  # the field the customer gave up on
    error: str | None = None
    names: list[str] = field(default_factory=list)  # every identified reply, in order
    # question asked in a bot turn (None: no question) -> seconds the bot took for that turn
    reply_seconds: dict[str | None, list[float]] = field(default_factory=dict)


def question_of(replies: list[Reply]) -> tuple[str | None, Reply | None]:
    """The question of a bot turn: the last reply that asks for a profile field."""
    for reply in reversed(replies):
        if reply.name in QUESTION_FIELDS:
            return QUESTION_FIELDS[reply.name], reply
    return None, None


def choices_of(replies: list[Reply], name: str | None) -> Reply | None:
    """The reply of the turn that offers buttons for the question ``name``: the offered times
    (or cars) rather than the generic question after them."""
    offers = [r for r in replies if r.buttons and QUESTION_FIELDS.get(r.name or "") == name]
    preferred = [r for r in offers if r.name in CHOICES]
    return (preferred or offers or [None])[0]


def button_for(reply: Reply | None, words: tuple[str, ...]) -> str | None:
    """The payload of the first button whose title starts with one of ``words``."""
    for title, payload in reply.buttons if reply else ():
        if title.lower().startswith(words):
            return payload
    return None


YES = {"nl": ("ja",), "en": ("yes",)}
NO = {"nl": ("nee", "geen"), "en": ("no",)}


class Customer:
    """Answers the bot's questions from a profile and keeps the transcript's counts."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.t = Transcript(profile)
        self._follow_ups = list(profile.follow_ups)
        self._goodbye_sent = False
        self._rephrased = False
        self._digressed = False
        self._after_digression = False
        self._corrected = profile.correction is None
        self._last_survey: str | None = None
        self._declined_more = False
        self._survey_stopped = False
        self._choices: Reply | None = None

    def opening(self) -> str:
        return self.profile.opening

    def observe(self, message: str, replies: list[Reply]) -> None:
        """Count what a bot turn says: fallbacks, wrong language, unknown replies."""
        if len(self.t.turns) == 0:
            answered = "opening"
        else:
            answered = question_of(self.t.turns[-1][1])[0] or "none"
        self.t.turns.append((message, replies))
        for reply in replies:
            if reply.name is None:
                self.t.unknown_replies += 1
                self.t.unknown_texts.append(reply.text[:120])
                continue
            self.t.names.append(reply.name)
            if reply.name in self.profile.goal:
                self.t.goal_reached = True
            if reply.name in DID_NOT_UNDERSTAND:
                self.t.did_not_understand += 1
                self.t.not_understood_after[answered] += 1
            if reply.language and reply.language != self.profile.language:
                self.t.wrong_language += 1

    def respond(self, replies: list[Reply]) -> str | None:
        """The customer's next message, or None when the conversation is over."""
        name, reply = question_of(replies)
        self._choices = choices_of(replies, name)
        if name == "survey_again":
            name = self._last_survey
        if name is None:
            # Not understood, or answered with something else: people say it again, plainly,
            # once. After the request was done they do not start it again.
            misunderstood = any(r.name in DID_NOT_UNDERSTAND for r in replies)
            can_rephrase = self.profile.rephrase and not self._rephrased
            if can_rephrase and not self.t.goal_reached and (misunderstood or not self._follow_ups):
                self._rephrased = True
                return self.profile.rephrase
            if self.t.goal_reached and misunderstood:
                return None  # done, and the bot did not understand the goodbye: leave
            return self._next_step()
        return self.answer(name, reply)

    def _next_step(self) -> str | None:
        if self._follow_ups:
            return self._follow_ups.pop(0)
        if self.profile.goodbye and not self._goodbye_sent:
            self._goodbye_sent = True
            return self.profile.goodbye
        return None

    def answer(self, name: str, reply: Reply | None) -> str | None:
        p = self.profile
        asked = self.t.asks[name]
        self.t.asks[name] += 1
        if asked and not self._after_digression and name not in ("anything_else",):
            self.t.reprompts[name] += 1
        elif not asked and name in p.given and not (reply and reply.name in _EXPLAINED_ASKS):
            self.t.redundant[name] += 1
        self._after_digression = False
        if asked >= MAX_ASKS and name not in ("anything_else",):
            self.t.dead_end = name
            return None
        if p.digression and p.digression[0] == name and not self._digressed:
            self._digressed = self._after_digression = True
            self.t.asks[name] -= 1
            return p.digression[1]
        if name in SURVEY_FIELDS:
            return self._survey(name, reply, asked)
        if name == "anything_else":
            if self._follow_ups:
                return self._follow_ups.pop(0)
            if self._declined_more:
                return None
            self._declined_more = True
            return p.answers["no_more"].text
        if name == "offer":
            words = YES if p.wants_offer else NO
            if p.click_buttons and (payload := button_for(reply, words[p.language])):
                return payload
            return p.answers["yes" if p.wants_offer else "no"].attempt(asked)
        if name == "confirm":
            if not self._corrected:
                # The time and the summary are asked again because of the correction, not
                # because the bot failed to understand: those asks start afresh.
                self._corrected = True
                self.t.asks["when"] = self.t.asks["confirm"] = 0
                return p.correction[1]
            if p.click_buttons and (payload := button_for(reply, YES[p.language])):
                return payload
            return p.answers["yes"].attempt(asked)
        if name == "move_existing":
            # The car has an appointment: a customer who came to move it says yes (its request
            # was read as a booking); one who came to book wants another appointment.
            words = YES if p.flow == "move" else NO
            if p.click_buttons and (payload := button_for(reply, words[p.language])):
                return payload
            return p.answers["yes" if p.flow == "move" else "no"].attempt(asked)
        if name == "change_field":
            return p.answers["change_field"].attempt(asked)
        choices = self._choices
        if name in ("when", "car") and choices and (choices.name in CHOICES or asked):
            # The bot offers choices after a refusal: take the first, as people do.
            self.t.time_flexible = self.t.time_flexible or name == "when"
            return choices.buttons[0][1]
        if name == "when" and not self._corrected and p.correction:
            return p.correction[0]
        answer = p.answers.get(name)
        if answer is None:
            self.t.error = f"the profile has no answer for {name}"
            return None
        return answer.attempt(asked)

    def _survey(self, name: str, reply: Reply | None, asked: int) -> str | None:
        p = self.profile
        self._last_survey = name
        if self._survey_stopped:
            return None
        if p.survey is None:
            self._survey_stopped = True
            return p.survey_stop or "stop"
        value = p.survey.get(name)
        if value is None:
            if name == "comment":
                payload = button_for(reply, NO[p.language])
                if payload:
                    return payload
                return p.answers["no"].text
            return None
        if name == "comment":
            self.t.survey_given["comment"] = value
            return value
        text, score = value
        if asked and reply is not None:
            # Asked again: give the plain number, as people do.
            text = str(score)
        self.t.survey_given[name] = score
        return text
