"""submission tokens for forms that make something (a police warning, a registration)

Revision ID: 0013
Revises: 0012

A token now names its form; a task form's token keeps its task, the others the id of what
their first submission made, so a double click enters one warning or registers one finding.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission_token') as batch:
        batch.add_column(sa.Column('form', sa.String(length=20), server_default='task',
                                   nullable=False))
        batch.add_column(sa.Column('result_id', sa.Integer(), nullable=True))
        batch.alter_column('task_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM submission_token WHERE form <> 'task'")  # technical, kept a day
    with op.batch_alter_table('submission_token') as batch:
        batch.alter_column('task_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('result_id')
        batch.drop_column('form')
