"""The post-chat survey: CSAT (1-5), CES (1-7), NPS (0-10, if the dealer asks it), a comment.

Each answer is stored the moment it is given. An unclear answer is asked again once, then the
survey moves on. The survey runs at most once per conversation and never inside another form.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    StoreMixin,
    current_conversation_id,
    dealer_of,
    latest_confidence,
    latest_intent,
)
from actions.validation import MAX_TRIES, BaseFormValidation, tries
from core.engagement import summarize
from core.settings import get_settings
from core.store.recorder import answer
from dealer.survey import SCALES, is_no_comment, parse_score

QUESTIONS = ("csat", "ces", "nps", "survey_comment")
SKIPPED = "skipped"
MAX_COMMENT_CHARS = 1000
# The customer ends the chat: "bye", or "no" to "anything else?" (data/core/rules.yml).
CLOSING_INTENTS = ("goodbye", "deny", "thank", "stop")  # to "anything else?" (rules)
_STOP = frozenset({"stop"})
_PERSON = frozenset({"request_human"})
# A wish for a person at the comment question is taken from this confidence on. Comments that
# mention people or say nothing were read as request_human with 0.30-0.42 ("niks op aan te
# merken", "de verkoper was top") and handed the customer over (tuning seed 426, 5 of 200
# Dutch conversations); real wishes ("ik wil een medewerker spreken", "please call me",
# "het ging prima maar ik wil toch iemand spreken") came with 0.67-1.00.
CLEAR_WISH_FOR_PERSON = 0.6


def eligible(tracker: Tracker) -> bool:
    """A survey may start: after a completed task, or at goodbye after a qualifying chat.
    Never in a conversation handed to a person: while one is awaited the answers would rate
    the wait ("Oké, ik wacht wel" was stored as CSAT 3), and the bot's survey does not rate
    the person's part (docs/staff.md)."""
    outcomes = tracker.get_slot("outcomes") or []
    if tracker.get_slot("survey_offered") or "handed_off" in outcomes:
        return False
    if latest_intent(tracker) in CLOSING_INTENTS:
        settings = get_settings()
        record = summarize(
            tracker.events,
            sender_id=tracker.sender_id,
            secret=settings.contact_key_secret,
            default_dealer=dealer_of(tracker).id,
            test_senders=settings.test_senders,
            customer_channels=settings.customer_channels,
        )
        return bool(record and record.qualifies)
    return bool(tracker.get_slot("outcomes"))


class ValidateSurveyForm(BaseFormValidation):
    hands_over_when_stuck = False  # unclear twice: the question is skipped

    def name(self) -> str:
        return "validate_survey_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        questions = [q for q in QUESTIONS if q != "nps" or dealer_of(tracker).ask_nps]
        if tracker.get_slot("requested_slot") in questions:
            return questions  # the survey is under way
        return questions if eligible(tracker) else []

    def store(self, tracker: Tracker, item: dict) -> None:
        """Store one answer now, with the conversation it belongs to."""
        target = tracker.get_slot("survey_conversation")
        if target and target != current_conversation_id(tracker):
            self.recorder.write({"op": "answers", "conversation_id": target, "answers": [item]})
        else:
            self.record(tracker, answers=[item])

    def score(self, question: str, value: Any, dispatcher, tracker) -> dict[str, Any]:
        score = parse_score(str(value or ""), question)
        if score is not None:
            self.store(tracker, answer(question, score=score))
            return {question: str(score)}
        if question == QUESTIONS[0] and latest_intent(tracker) == "deny":
            # "nee, liever niet" to "may I ask two quick questions?": no survey, no second ask.
            return {q: SKIPPED for q in QUESTIONS[:-1]} | {"survey_comment": "none"}
        if tries(tracker, question) >= MAX_TRIES:
            return {question: SKIPPED}  # unclear twice: move on
        low, high = SCALES[question]
        dispatcher.utter_message(response="utter_survey_unclear", low=low, high=high)
        return {question: None}

    @classmethod
    def rating_read_as_stop(cls, question: str, tracker: Tracker) -> dict[str, Any]:
        """A clear rating the classifier read as ``stop`` ("not bad" was stop 0.44) answers the
        scale question; the slot mappings leave stop out, so "stop" still skips the survey."""
        return cls.answer_despite(
            tracker, question, _STOP, lambda text: parse_score(text, question) is not None
        )

    async def extract_csat(self, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.rating_read_as_stop("csat", tracker)

    async def extract_ces(self, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.rating_read_as_stop("ces", tracker)

    async def extract_nps(self, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.rating_read_as_stop("nps", tracker)

    def validate_csat(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.score("csat", value, dispatcher, tracker)

    def validate_ces(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.score("ces", value, dispatcher, tracker)

    def validate_nps(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return self.score("nps", value, dispatcher, tracker)

    async def extract_survey_comment(self, dispatcher, tracker, domain) -> dict[str, Any]:
        """Free text is the comment; only a clear wish for a person leaves the survey (the slot
        mapping leaves request_human out, so that its rule hands over)."""
        return self.answer_despite(
            tracker, "survey_comment", _PERSON,
            lambda text: latest_confidence(tracker) < CLEAR_WISH_FOR_PERSON,
        )  # fmt: skip

    def validate_survey_comment(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = " ".join(str(value or "").split())[:MAX_COMMENT_CHARS]
        if is_no_comment(text) or text.startswith("/"):  # "nee, het duurde te lang" is kept
            return {"survey_comment": "none"}
        self.store(tracker, answer("comment", comment=text))
        return {"survey_comment": text}


class AskScale(Action, ABC):
    """Ask a scale question with one button per score; the first question marks the offer."""

    @property
    @abstractmethod
    def question(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.question}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        low, high = SCALES[self.question]
        dispatcher.utter_message(
            response=f"utter_ask_{self.question}",
            dealer_name=dealer_of(tracker).name,
            buttons=[
                {"title": str(n), "payload": f'/inform{{"{self.question}": "{n}"}}'}
                for n in range(low, high + 1)
            ],
        )
        return [SlotSet("survey_offered", True), SlotSet("survey_comment_asked", None)]


class ActionAskSurveyComment(Action):
    """Ask for a comment and mark it: there, a typed request is the comment (data/survey)."""

    def name(self) -> str:
        return "action_ask_survey_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dispatcher.utter_message(response="utter_ask_survey_comment")
        return [SlotSet("survey_comment_asked", True)]


class ActionAskCsat(AskScale):
    question = "csat"


class ActionAskCes(AskScale):
    question = "ces"


class ActionAskNps(AskScale):
    question = "nps"


class ActionSubmitSurvey(StoreMixin, Action):
    """Close the survey: thank for answers, or carry on as if no survey had been asked."""

    def name(self) -> str:
        return "action_submit_survey"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        answered = any(
            (tracker.get_slot(q) or "").isdigit() for q in ("csat", "ces", "nps")
        ) or tracker.get_slot("survey_comment") not in (None, "none")
        if answered:
            dispatcher.utter_message(response="utter_survey_thanks")
        elif latest_intent(tracker) in CLOSING_INTENTS:
            dispatcher.utter_message(response="utter_goodbye")
        else:
            dispatcher.utter_message(response="utter_anything_else")
        done = ("survey_conversation", "survey_comment_asked")
        return [SlotSet(q, None) for q in QUESTIONS] + [SlotSet(name, None) for name in done]
