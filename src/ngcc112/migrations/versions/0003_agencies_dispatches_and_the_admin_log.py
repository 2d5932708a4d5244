"""agencies, agency members, dispatches and the admin log

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 06:00:07.824370
"""

from alembic import op
import sqlalchemy as sa
import ngcc112.tickets.models


revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_log_at"), ["at"], unique=False)

    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "agency_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("agency_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_members_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("sent_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=120), nullable=False),
        sa.Column("acknowledged_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        sa.Column("en_route_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("reported_at", ngcc112.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "agency_id", name="uq_dispatches_ticket_agency"),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatches_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatches_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatches_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatches_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_status"))
        batch_op.drop_index(batch_op.f("ix_dispatches_agency_id"))

    op.drop_table("dispatches")
    with op.batch_alter_table("agency_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_members_agency_id"))

    op.drop_table("agency_members")
    op.drop_table("agencies")
    with op.batch_alter_table("admin_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_log_at"))

    op.drop_table("admin_log")
