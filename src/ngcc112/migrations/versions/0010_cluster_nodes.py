"""cluster nodes

``cluster_nodes``: one row per node of a cluster (``NGCC112_CLUSTER=on``), written by the
node itself every few seconds: its site, its role (leader / standby), since when, when it
was last seen, its pid and host. ``ngcc112 cluster status`` reads it. Leadership is the
PostgreSQL advisory lock, not this table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:00:00
"""

from alembic import op
import sqlalchemy as sa
import ngcc112.tickets.models


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = ngcc112.tickets.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("since", _TIME, nullable=False),
        sa.Column("seen_at", _TIME, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
    )
    op.create_index("ix_cluster_nodes_site", "cluster_nodes", ["site"])


def downgrade() -> None:
    op.drop_index("ix_cluster_nodes_site", table_name="cluster_nodes")
    op.drop_table("cluster_nodes")
