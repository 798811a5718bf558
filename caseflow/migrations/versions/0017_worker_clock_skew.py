"""worker_beat.clock_skew_ms: how far each timer worker's clock is from the database's

Revision ID: 0017
Revises: 0016

Timers are due by one host's clock and fire by another's: a worker whose clock has drifted
fires escalations late or early. Each worker now notes, with its sign of life, how far its
clock is from the database server's, and the health check fails when it is too far.
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('worker_beat') as batch:
        batch.add_column(sa.Column('clock_skew_ms', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('worker_beat') as batch:
        batch.drop_column('clock_skew_ms')
