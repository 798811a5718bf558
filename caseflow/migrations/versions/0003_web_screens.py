"""web screens: task drafts, and indexes for the inbox, case list and case file

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'task_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'],
                                name=op.f('fk_task_draft_task_id_task')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_task_draft_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_draft')),
        sa.UniqueConstraint('task_id', 'user_id', name=op.f('uq_task_draft_task_id')),
    )
    op.create_index(op.f('ix_task_draft_user_id'), 'task_draft', ['user_id'], unique=False)
    # Counselor queues are scoped by class: role + state + class, in due order.
    op.create_index('ix_task_role_class_open', 'task', ['role', 'state', 'class_id', 'due_at'])
    # The case file lists a case's steps; the inbox joins open tasks to their case.
    op.create_index('ix_task_case_state', 'task', ['case_id', 'state'])
    # A college's case list, newest first.
    op.create_index('ix_case_college_registered', 'case_file', ['college_id', 'registered_at'])
    # Whoever registered a case keeps seeing it (access.case_filter).
    op.create_index('ix_case_registered_by', 'case_file', ['registered_by'])


def downgrade():
    op.drop_index('ix_case_registered_by', table_name='case_file')
    op.drop_index('ix_case_college_registered', table_name='case_file')
    op.drop_index('ix_task_case_state', table_name='task')
    op.drop_index('ix_task_role_class_open', table_name='task')
    op.drop_index(op.f('ix_task_draft_user_id'), table_name='task_draft')
    op.drop_table('task_draft')
