"""location fixes, AML messages and the misuse list (blocklist)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:20:00
"""

from alembic import op
import sqlalchemy as sa
import ngcc112.tickets.models


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = ngcc112.tickets.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "aml_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("parsed_at", _TIME, nullable=True),
        sa.Column("form", sa.String(length=10), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("emergency_number", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("confidence_pct", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=True),
        sa.Column("fix_time", _TIME, nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("matched_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("aml_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_messages_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_aml_messages_number"), ["number"], unique=False)
        batch_op.create_index(batch_op.f("ix_aml_messages_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "location_fixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("confidence_pct", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("time", _TIME, nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("aml_message_id", sa.Integer(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("accepted_by", sa.String(length=120), nullable=True),
        sa.Column("accepted_at", _TIME, nullable=True),
        sa.Column("superseded_at", _TIME, nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["aml_message_id"], ["aml_messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_location_fixes_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_location_fixes_aml_message_id"), ["aml_message_id"], unique=False)

    op.create_table(
        "blocklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("added_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        sa.Column("lifted_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blocklist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blocklist_number"), ["number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blocklist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocklist_number"))
    op.drop_table("blocklist")
    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_fixes_aml_message_id"))
        batch_op.drop_index(batch_op.f("ix_location_fixes_ticket_id"))
    op.drop_table("location_fixes")
    with op.batch_alter_table("aml_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_messages_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_aml_messages_number"))
        batch_op.drop_index(batch_op.f("ix_aml_messages_received_at"))
    op.drop_table("aml_messages")
