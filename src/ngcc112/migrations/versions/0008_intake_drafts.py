"""intake drafts

What an operator typed into a ticket's intake form, saved as typed and unchecked
(``intake_drafts``, one row per ticket and user), so no text is lost to a reload,
a new call or a validation error. Submitting the intake deletes the rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:00:00
"""

from alembic import op
import sqlalchemy as sa

import ngcc112.tickets.models


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TIME = ngcc112.tickets.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_drafts",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("intake_drafts")
