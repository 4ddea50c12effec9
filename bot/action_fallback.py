"""When the action server fails, the customer still gets an answer.

Rasa 3.6 logs a failed custom action ("Bot will continue, but the actions events are lost") and
goes on: the customer gets no reply at all, or only the replies that need no action server, and
a widget or WhatsApp user waits in silence. Rasa has no setting for this (``action_endpoint`` has
no retries or fallback; RasaHQ/rasa#5588, #7630), so :func:`install` wraps ``RemoteAction.run``
in the Rasa server: when a call fails for any reason other than a form's rejection, the customer
gets one apology per message, in the conversation's language, with the dealer's phone number.
The error is then raised again, so Rasa drops the action's events as before: a form never takes
an answer its validation did not see, and the next message after a restart is handled normally
(the conversation record is rebuilt from the whole tracker, so it is written once).

The apology goes straight to the output channel: it reaches the customer but is not a tracker
event, so it does not appear in the transcript.

Written for Rasa 3.6.21 (``RemoteAction.run(self, output_channel, nlg, tracker, domain)``).
:func:`install` is called by the Rasa server's launcher (:mod:`bot.rasa_server`), never on
import, and raises :class:`bot.rasa_patches.RasaPatchError` when Rasa is another version or
``RemoteAction.run`` changed. It imports Rasa when called: the texts here are also read by tests
without Rasa's core, which takes seconds to import.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from bot.rasa_patches import patch
from dealer.config import get_dealer

log = logging.getLogger(__name__)

APOLOGY = {
    "nl": "Sorry, er gaat aan onze kant even iets mis, dus ik kan u nu niet verder helpen. "
    "Probeert u het over een paar minuten opnieuw, of bel ons op {phone}.",
    "en": "Sorry, something is not working on our side right now, so I can't help you further. "
    "Please try again in a few minutes, or call us on {phone}.",
}
APOLOGY_NO_PHONE = {
    "nl": "Sorry, er gaat aan onze kant even iets mis. Probeert u het over een paar minuten "
    "opnieuw.",
    "en": "Sorry, something is not working on our side right now. Please try again in a few "
    "minutes.",
}
_MARK = "_dealerbot_apologised_to"  # senders already told, on the (per-message) output channel


def apology(tracker: Any) -> str:
    """The apology in the conversation's language, with the dealer's phone number if known."""
    language = tracker.get_slot("language")
    language = language if language in APOLOGY else "nl"
    try:
        metadata = (
            getattr(tracker, "latest_message", None) and tracker.latest_message.metadata
        ) or {}
        phone = get_dealer(tracker.get_slot("dealer_id") or metadata.get("dealer")).phone
    except Exception:  # noqa: BLE001 - a broken dealer file must not cost the apology
        phone = None
    return APOLOGY[language].format(phone=phone) if phone else APOLOGY_NO_PHONE[language]


async def apologise(output_channel: Any, tracker: Any) -> bool:
    """Send the apology unless this message already got one. True when sent."""
    told = getattr(output_channel, _MARK, None)
    if told is None:
        told = set()
        setattr(output_channel, _MARK, told)
    if tracker.sender_id in told:
        return False
    told.add(tracker.sender_id)
    await output_channel.send_text_message(tracker.sender_id, apology(tracker))
    return True


def _run_or_apologise(run: Any) -> Any:
    from rasa.core.actions.action import ActionExecutionRejection

    @functools.wraps(run)
    async def run_or_apologise(self, output_channel, nlg, tracker, domain):  # noqa: ANN001, ANN202
        try:
            return await run(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise  # a form's "not this answer": normal conversation flow
        except Exception as exc:
            log.error("action %s failed (%s): the customer gets an apology", self.name(), exc)
            try:
                await apologise(output_channel, tracker)
            except Exception:  # noqa: BLE001 - the channel itself is broken: Rasa logs the rest
                log.exception("the apology could not be sent")
            raise

    return run_or_apologise


def install() -> None:
    """Wrap ``RemoteAction.run``, once. Raises :class:`bot.rasa_patches.RasaPatchError` when the
    patch cannot apply."""
    from rasa.core.actions.action import RemoteAction

    patch(RemoteAction, "run", ("self", "output_channel", "nlg", "tracker", "domain"),
          _run_or_apologise)  # fmt: skip
