"""recovered tickets, backfill marks, and (PostgreSQL) Asterisk's cel table

Calls the daemon never saw get their tickets from Asterisk's own records (CEL):
``tickets.recovered`` marks them, ``backfill_marks`` remembers how far each
source was read, its ``origin`` row when backfilling began (no call before it
is backfilled). On PostgreSQL this also creates the table ``cel`` that
Asterisk's cel_pgsql writes into (asterisk-config/postgresql/cel_pgsql.conf):
the layout of Asterisk's documented PostgreSQL CEL table, with a primary key,
defaults, the ``extra`` column and two indexes for the daemon's reads. An
existing ``cel`` table is left as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:00:00
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import ngcc112.tickets.models


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = ngcc112.tickets.models.UtcDateTime(timezone=True)

#: Asterisk's PostgreSQL CEL table (cel_pgsql reads the column names and types when it
#: loads and writes those it knows). eventtime: "timestamp" in UTC (usegmtime = yes).
CEL_TABLE = """
CREATE TABLE IF NOT EXISTS cel (
    id bigserial PRIMARY KEY,
    eventtype varchar(30) NOT NULL,
    eventtime timestamp NOT NULL,
    userdeftype varchar(255) NOT NULL DEFAULT '',
    cid_name varchar(80) NOT NULL DEFAULT '',
    cid_num varchar(80) NOT NULL DEFAULT '',
    cid_ani varchar(80) NOT NULL DEFAULT '',
    cid_rdnis varchar(80) NOT NULL DEFAULT '',
    cid_dnid varchar(80) NOT NULL DEFAULT '',
    exten varchar(80) NOT NULL DEFAULT '',
    context varchar(80) NOT NULL DEFAULT '',
    channame varchar(80) NOT NULL DEFAULT '',
    appname varchar(80) NOT NULL DEFAULT '',
    appdata varchar(512) NOT NULL DEFAULT '',
    amaflags integer NOT NULL DEFAULT 0,
    accountcode varchar(80) NOT NULL DEFAULT '',
    peeraccount varchar(80) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '',
    linkedid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '',
    peer varchar(80) NOT NULL DEFAULT '',
    extra varchar(512) NOT NULL DEFAULT ''
)
"""


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovered", sa.Boolean(), server_default=sa.false(), nullable=False))

    marks = op.create_table(
        "backfill_marks",
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("position", sa.String(length=100), nullable=True),
        sa.Column("since", _TIME, nullable=False),
        sa.Column("scanned_at", _TIME, nullable=True),
        sa.Column("recovered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.bulk_insert(
        marks,
        [
            {
                "source": "origin",
                "position": None,
                "since": datetime.now(timezone.utc),
                "scanned_at": None,
                "recovered": 0,
            }
        ],
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(CEL_TABLE)
        op.execute("CREATE INDEX IF NOT EXISTS ix_cel_linkedid ON cel (linkedid)")
        op.execute("CREATE INDEX IF NOT EXISTS ix_cel_eventtime ON cel (eventtime)")


def downgrade() -> None:
    # The cel table holds Asterisk's records, not ours: it stays.
    op.drop_table("backfill_marks")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("recovered")
