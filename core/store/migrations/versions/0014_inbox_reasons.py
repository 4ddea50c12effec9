"""NLU inbox: what happened to an item's message, and the messages before it (issue 21).

Revision ID: 0014
Revises: 0012 (0013 is not on main yet when this was written: the lead renumbers at merge)
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nlu_inbox") as batch:
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("context", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nlu_inbox") as batch:
        batch.drop_column("context")
        batch.drop_column("detail")
