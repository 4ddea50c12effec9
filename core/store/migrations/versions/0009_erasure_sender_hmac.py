"""Erasure tombstones: the sender hash becomes the contact-key HMAC, and is dropped once used.

Tombstones hold ``sender_id_hash`` only to find the erased sender's Rasa events for the purge.
Before this revision it was an unsalted SHA-256 of the sender id, which anyone with the database
reverses by trying phone numbers. New tombstones hold the HMAC with
``DEALERBOT_CONTACT_KEY_SECRET`` (``core.store.privacy.sender_hash``) and lose it once the
events are purged. Old hashes cannot be converted (the sender id is not stored), so:
- where the events are purged already the hash has no use left and is cleared here;
- where they are still pending, the purge matches both forms, and clears the hash when done
  (``purge_pending_erasures``); the retention purge deletes tombstones older than the retention
  period in any case.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erasures") as batch:
        batch.alter_column("sender_id_hash", existing_type=sa.String(64), nullable=True)
    op.execute("UPDATE erasures SET sender_id_hash = NULL WHERE tracker_purged_at IS NOT NULL")


def downgrade() -> None:
    # A cleared hash cannot come back; an empty one keeps the old NOT NULL column valid.
    op.execute("UPDATE erasures SET sender_id_hash = '' WHERE sender_id_hash IS NULL")
    with op.batch_alter_table("erasures") as batch:
        batch.alter_column("sender_id_hash", existing_type=sa.String(64), nullable=False)
