"""Model loads: which model a Rasa server runs since when (``dealerbot reload``, issue 21).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_loads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("server", sa.String(255), nullable=False),
        sa.Column("model_file", sa.String(255), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_model_loads_server", "model_loads", ["server", "loaded_at"])


def downgrade() -> None:
    op.drop_table("model_loads")
