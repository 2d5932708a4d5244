"""AML sender trust, and server-side panel sessions

``aml_messages.authenticated_as`` says how a sender proved itself (a configured
secret or an allow-listed network); ``aml_messages.refused`` why a message was
kept only as evidence, never parsed or matched. ``panel_sessions`` holds every
login, so logout, a password change and an admin's disable end a session at
once, copied cookies included.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:20:00
"""

from alembic import op
import sqlalchemy as sa
import ngcc112.tickets.models


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = ngcc112.tickets.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("aml_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("authenticated_as", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("refused", sa.String(length=200), nullable=True))

    op.create_table(
        "panel_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_sessions_user_id"))
    op.drop_table("panel_sessions")

    with op.batch_alter_table("aml_messages", schema=None) as batch_op:
        batch_op.drop_column("refused")
        batch_op.drop_column("authenticated_as")
