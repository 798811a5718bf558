"""process_current: which version of each process new instances start on

Revision ID: 0015
Revises: 0014

New instances started on the newest deployed version, found as the highest id. Deploying
files an older version already holds (rolling a broken model back) changed nothing, since
each version's sources are stored once. process_current names the version to start on;
it starts as the newest version of each process.
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'process_current',
        sa.Column('process_id', sa.String(length=100), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['process_version.id'],
                                name=op.f('fk_process_current_version_id_process_version')),
        sa.PrimaryKeyConstraint('process_id', name=op.f('pk_process_current')),
    )
    op.execute("INSERT INTO process_current (process_id, version_id, since) "
               "SELECT process_id, MAX(id), MAX(deployed_at) FROM process_version "
               "GROUP BY process_id")


def downgrade():
    op.drop_table('process_current')
