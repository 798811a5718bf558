"""confidential notes: session notes live in their own table, never in workflow data

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'confidential_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('owner_role', sa.String(length=30), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id'],
                                name=op.f('fk_confidential_note_case_id_case_file')),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'],
                                name=op.f('fk_confidential_note_task_id_task')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_confidential_note')),
    )
    op.create_index(op.f('ix_confidential_note_case_id'), 'confidential_note', ['case_id'])
    op.create_index(op.f('ix_confidential_note_task_id'), 'confidential_note', ['task_id'])


def downgrade():
    op.drop_index(op.f('ix_confidential_note_task_id'), table_name='confidential_note')
    op.drop_index(op.f('ix_confidential_note_case_id'), table_name='confidential_note')
    op.drop_table('confidential_note')
