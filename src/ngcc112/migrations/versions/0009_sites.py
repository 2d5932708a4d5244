"""sites

The site a ticket belongs to (``tickets.site``): the one Asterisk that took the call, named
by the node that followed it (``[cluster] site``, env ``NGCC112_SITE``; ``main`` by default
and for every ticket from before). The dispatcher's board and the reports filter and group
by it; dispatches belong to their ticket's site.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("site", sa.String(32), nullable=False, server_default="main"))
    op.create_index("ix_tickets_site", "tickets", ["site"])


def downgrade() -> None:
    op.drop_index("ix_tickets_site", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("site")
