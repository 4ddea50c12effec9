"""Every text of the staff inbox, in Dutch and English, in one place (a dict a Jinja2 or Babel
catalogue can take over when the whole dashboard becomes bilingual). Staff texts follow the
dealer's ``reports.language``; the texts to the customer (``CUSTOMER``) the customer's language.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "inbox": "Inbox",
        "handoffs": "Wachten op een medewerker",
        "leads": "Nieuwe leads",
        "test_drives": "Proefritten",
        "appointments": "Werkplaatsafspraken vandaag en later",
        "none": "Niets open.",
        "reference": "Referentie",
        "channel": "Kanaal",
        "waiting": "Wacht",
        "minutes": "{n} min",
        "status": "Status",
        "kind": "Soort",
        "customer": "Klant",
        "car": "Auto",
        "when": "Wanneer",
        "service": "Onderhoud",
        "plate": "Kenteken",
        "open": "Openen",
        "new": "nieuw",
        "claimed": "opgepakt door {staff} om {at}",
        "done": "afgehandeld door {staff} om {at}",
        "won": "gewonnen ({staff}, {at})",
        "lost": "verloren ({staff}, {at})",
        "reopened": "heropend door {staff} om {at}",
        "taken_over": "overgenomen door {staff} om {at}",
        "handed_back": "teruggegeven aan de bot door {staff} om {at}",
        "replied": "bericht van {staff} om {at}",
        "template_sent": "sjabloonbericht op WhatsApp verstuurd door {staff} om {at}",
        "do_claimed": "Oppakken",
        "do_done": "Afgehandeld",
        "do_won": "Gewonnen",
        "do_lost": "Verloren",
        "do_reopened": "Heropenen",
        "takeover": "Overnemen",
        "handback": "Teruggeven aan de bot",
        "held_by": "{staff} voert dit gesprek sinds {at}; de bot zwijgt.",
        "bot_active": "De bot voert dit gesprek.",
        "send": "Versturen",
        "reply_label": "Bericht aan de klant",
        "transcript": "Gesprek",
        "history": "Geschiedenis",
        "no_history": "Nog geen wijzigingen.",
        "bot": "Bot",
        "staff": "Medewerker",
        "phone": "Telefoon",
        "email": "E-mail",
        "name": "Naam",
        "note": "Notitie",
        "created": "Binnengekomen",
        "chat_unavailable": "Het gesprek is nu niet bereikbaar (de chatserver antwoordt niet).",
        "window_closed": (
            "Deze klant schreef meer dan 24 uur geleden op WhatsApp: WhatsApp staat nu alleen "
            "goedgekeurde sjabloonberichten toe. Bel of mail de klant:"
        ),
        "no_contact": "geen telefoon of e-mail bekend",
        "send_template": "Sjabloonbericht sturen (WhatsApp)",
        "template_is_sent": "Het goedgekeurde sjabloonbericht is verstuurd; antwoordt de klant, "
        "dan kunt u weer gewoon schrijven.",
        "no_template": "Er is geen goedgekeurd WhatsApp-sjabloon ingesteld (handoff.whatsapp).",
        "not_held": "Neem het gesprek eerst over.",
        "empty_reply": "Het bericht is leeg.",
        "back": "Terug naar de inbox",
        "kind_handoff": "overdracht",
        "kind_test_drive": "proefrit",
        "kind_trade_in": "inruil",
        "kind_callback": "terugbelverzoek",
        "kind_financing": "financiering",
        "reason_requested": "de klant vroeg om een medewerker",
        "reason_offered": "de klant nam het aanbod van een medewerker aan",
        "reason_two_fallbacks": "de bot begreep de klant twee keer niet",
        "reason_stuck": "de bot kon een antwoord van de klant drie keer niet lezen",
    },
    "en": {
        "inbox": "Inbox",
        "handoffs": "Waiting for a person",
        "leads": "New leads",
        "test_drives": "Test drives",
        "appointments": "Workshop appointments today and later",
        "none": "Nothing open.",
        "reference": "Reference",
        "channel": "Channel",
        "waiting": "Waiting",
        "minutes": "{n} min",
        "status": "Status",
        "kind": "Kind",
        "customer": "Customer",
        "car": "Car",
        "when": "When",
        "service": "Service",
        "plate": "Plate",
        "open": "Open",
        "new": "new",
        "claimed": "claimed by {staff} at {at}",
        "done": "done by {staff} at {at}",
        "won": "won ({staff}, {at})",
        "lost": "lost ({staff}, {at})",
        "reopened": "reopened by {staff} at {at}",
        "taken_over": "taken over by {staff} at {at}",
        "handed_back": "handed back to the bot by {staff} at {at}",
        "replied": "message from {staff} at {at}",
        "template_sent": "WhatsApp template message sent by {staff} at {at}",
        "do_claimed": "Claim",
        "do_done": "Done",
        "do_won": "Won",
        "do_lost": "Lost",
        "do_reopened": "Reopen",
        "takeover": "Take over",
        "handback": "Hand back to the bot",
        "held_by": "{staff} holds this conversation since {at}; the bot is silent.",
        "bot_active": "The bot holds this conversation.",
        "send": "Send",
        "reply_label": "Message to the customer",
        "transcript": "Conversation",
        "history": "History",
        "no_history": "No changes yet.",
        "bot": "Bot",
        "staff": "Staff",
        "phone": "Phone",
        "email": "E-mail",
        "name": "Name",
        "note": "Note",
        "created": "Received",
        "chat_unavailable": (
            "The conversation cannot be reached now (the chat server does not answer)."
        ),
        "window_closed": (
            "This customer last wrote on WhatsApp more than 24 hours ago: WhatsApp now allows "
            "approved template messages only. Call or e-mail the customer:"
        ),
        "no_contact": "no phone or e-mail known",
        "send_template": "Send the template message (WhatsApp)",
        "template_is_sent": "The approved template message was sent; when the customer answers "
        "you can write as usual again.",
        "no_template": "No approved WhatsApp template is set up (handoff.whatsapp).",
        "not_held": "Take the conversation over first.",
        "empty_reply": "The message is empty.",
        "back": "Back to the inbox",
        "kind_handoff": "handoff",
        "kind_test_drive": "test drive",
        "kind_trade_in": "trade-in",
        "kind_callback": "call back",
        "kind_financing": "financing",
        "reason_requested": "the customer asked for a person",
        "reason_offered": "the customer accepted the offer of a person",
        "reason_two_fallbacks": "the bot did not understand the customer twice",
        "reason_stuck": "the bot could not read one of the customer's answers three times",
    },
}

# To the customer, in the customer's language.
CUSTOMER: dict[str, dict[str, str]] = {
    "nl": {
        "handed_back": "Mijn collega heeft het gesprek teruggegeven aan de digitale assistent. "
        "Waarmee kan ik u verder helpen?",
        "timed_out": "Mijn collega is even niet bereikbaar; de digitale assistent helpt u weer "
        "verder. We nemen zo nodig nog contact met u op.",
    },
    "en": {
        "handed_back": "My colleague has handed the conversation back to the digital assistant. "
        "How else can I help you?",
        "timed_out": "My colleague is not available right now; the digital assistant is helping "
        "you again. We will get back to you if needed.",
    },
}


def texts(language: str | None) -> dict[str, str]:
    return TEXTS.get(language or "", TEXTS["nl"])


def customer_text(language: str | None, key: str) -> str:
    return CUSTOMER.get(language or "", CUSTOMER["nl"])[key]
