"""worker_beat: each timer worker's last sign of life, for the health check

Revision ID: 0016
Revises: 0015

The health check saw a stopped worker only once a timer was overdue; a school with no timer
waiting (or a screening round due to start) learned of it late. Each `caseflow worker`
(and the demo's worker thread) now notes every half minute that it ran a round.
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'worker_beat',
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fired', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('worker', name=op.f('pk_worker_beat')),
    )


def downgrade():
    op.drop_table('worker_beat')
