"""submission tokens: a task form's second submission returns the first one's outcome

Revision ID: 0007
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submission_token',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('next_task_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_submission_token_user_id_user_account')),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'],
                                name=op.f('fk_submission_token_task_id_task')),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_submission_token')),
    )
    op.create_index(op.f('ix_submission_token_created_at'), 'submission_token', ['created_at'])


def downgrade():
    op.drop_index(op.f('ix_submission_token_created_at'), table_name='submission_token')
    op.drop_table('submission_token')
