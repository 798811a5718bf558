"""reports: issued briefs, and the indexes the dashboard's aggregates use

Revision ID: 0008
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# (name, table, columns): the period ranges of the case figures (covering the columns
# they group by), the task figures (stop-payment, psych, overdue), the audit join and
# the audit export of a period.
INDEXES = (
    ('ix_case_happened_report', 'case_file',
     ['happened_at', 'category', 'withdrawn', 'college_id', 'class_id', 'student_id',
      'loss_cny']),
    ('ix_case_registered_report', 'case_file',
     ['registered_at', 'category', 'withdrawn', 'happened_at', 'college_id', 'class_id',
      'student_id', 'loss_cny']),
    ('ix_finding_created', 'finding', ['created_at', 'case_id']),
    ('ix_task_spec_created', 'task', ['task_spec', 'created_at']),
    ('ix_task_open_report', 'task',
     ['state', 'due_at', 'task_spec', 'college_id', 'class_id', 'case_id']),
    ('ix_task_completed_report', 'task',
     ['completed_at', 'due_at', 'state', 'task_spec', 'college_id', 'class_id', 'case_id']),
    ('ix_audit_task', 'audit_event', ['task_id']),
    ('ix_audit_at', 'audit_event', ['at']),
)


def upgrade():
    op.create_table(
        'issued_brief',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('college_id', sa.Integer(), nullable=False),
        sa.Column('period_kind', sa.String(length=20), nullable=False),
        sa.Column('period_key', sa.String(length=40), nullable=False),
        sa.Column('period_start', TS, nullable=False),
        sa.Column('period_end', TS, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('figures', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
        sa.Column('issued_at', TS, nullable=False),
        sa.Column('issued_by', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['college_id'], ['college.id'],
                                name=op.f('fk_issued_brief_college_id_college')),
        sa.ForeignKeyConstraint(['issued_by'], ['user_account.id'],
                                name=op.f('fk_issued_brief_issued_by_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_brief')),
        sa.UniqueConstraint('college_id', 'period_key', 'version',
                            name=op.f('uq_issued_brief_college_id')),
    )
    op.create_index('ix_issued_brief_college_issued', 'issued_brief',
                    ['college_id', 'issued_at'])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index('ix_issued_brief_college_issued', table_name='issued_brief')
    op.drop_table('issued_brief')
