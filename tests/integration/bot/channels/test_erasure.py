"""Erasure by phone number finds the WhatsApp conversations the channels keep per dealer."""

from sqlalchemy import select

from core.engagement import contact_key
from core.store.models import Conversation
from core.store.privacy import erase_contact
from core.store.recorder import Recorder, conversation_op
from core.store.spool import Spool
from core.whatsapp import sender_id
from tests.integration.core.store.test_recorder import record

SECRET = "s3cret"


def test_erase_by_phone_reaches_whatsapp_senders(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    mine = contact_key(SECRET, "whatsapp", sender_id("31612345678", "autohuis-demo"))
    theirs = contact_key(SECRET, "whatsapp", sender_id("31687654321", "autohuis-demo"))
    for cid, key in (("mine", mine), ("theirs", theirs)):
        recorder.write(conversation_op(record(cid=cid, contact_key=key, channel="whatsapp")))
    erased = erase_contact(store, secret=SECRET, phones=["+31612345678"])
    assert erased.conversations == 1
    with store() as session:
        assert session.scalars(select(Conversation.contact_key)).all() == [theirs]
