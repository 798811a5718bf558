"""discovery: police warnings (预警劝阻) and screening rounds (涉诈隐患摸排)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'],
                                   name=op.f(f'fk_{table}_{column}_{target}'))


def _warning():
    op.create_table(
        'warning',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=30), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('source_ref', sa.String(length=100), nullable=True),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('id_card', sa.String(length=18), nullable=True),
        sa.Column('name', sa.String(length=50), nullable=True),
        sa.Column('college_hint_id', sa.Integer(), nullable=True),
        sa.Column('warned_at', TS, nullable=False),
        sa.Column('fraud_type', sa.String(length=50), nullable=True),
        sa.Column('urgency', sa.String(length=10), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('match_method', sa.String(length=20), nullable=True),
        sa.Column('student_id', sa.Integer(), nullable=True),
        sa.Column('college_id', sa.Integer(), nullable=True),
        sa.Column('class_id', sa.Integer(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('matched_at', TS, nullable=True),
        sa.Column('matched_by', sa.Integer(), nullable=True),
        sa.Column('reached_at', TS, nullable=True),
        sa.Column('reached_by', sa.Integer(), nullable=True),
        sa.Column('reached_role', sa.String(length=30), nullable=True),
        sa.Column('reached_how', sa.String(length=20), nullable=True),
        sa.Column('minutes_to_reach', sa.Integer(), nullable=True),
        sa.Column('dissuaded', sa.Boolean(), nullable=True),
        sa.Column('money_transferred', sa.Boolean(), nullable=True),
        sa.Column('loss_cny', MONEY, nullable=False),
        sa.Column('took_part', sa.Boolean(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('fed_back_at', TS, nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('closed_at', TS, nullable=True),
        _fk('warning', 'college_hint_id', 'college'),
        _fk('warning', 'student_id', 'student'),
        _fk('warning', 'college_id', 'college'),
        _fk('warning', 'class_id', 'klass'),
        _fk('warning', 'instance_id', 'workflow_instance'),
        _fk('warning', 'matched_by', 'user_account'),
        _fk('warning', 'reached_by', 'user_account'),
        _fk('warning', 'case_id', 'case_file'),
        _fk('warning', 'created_by', 'user_account'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_warning')),
        sa.UniqueConstraint('number', name=op.f('uq_warning_number')),
        sa.UniqueConstraint('source', 'source_ref', name=op.f('uq_warning_source')),
    )
    op.create_index(op.f('ix_warning_phone'), 'warning', ['phone'])
    op.create_index(op.f('ix_warning_student_id'), 'warning', ['student_id'])
    op.create_index(op.f('ix_warning_instance_id'), 'warning', ['instance_id'])
    op.create_index('ix_warning_state_warned', 'warning', ['state', 'warned_at'])
    op.create_index('ix_warning_college_warned', 'warning', ['college_id', 'warned_at'])
    op.create_table(
        'warning_candidate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('warning_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('picked', sa.Boolean(), nullable=False),
        _fk('warning_candidate', 'warning_id', 'warning'),
        _fk('warning_candidate', 'student_id', 'student'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_candidate')),
        sa.UniqueConstraint('warning_id', 'student_id',
                            name=op.f('uq_warning_candidate_warning_id')),
    )
    op.create_index(op.f('ix_warning_candidate_warning_id'), 'warning_candidate',
                    ['warning_id'])


def _rounds():
    op.create_table(
        'screening_round',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=30), nullable=False),
        sa.Column('cohort', sa.String(length=20), nullable=False),
        sa.Column('college_id', sa.Integer(), nullable=True),
        sa.Column('grade', sa.Integer(), nullable=True),
        sa.Column('trigger', sa.String(length=20), nullable=False),
        sa.Column('auto_key', sa.String(length=40), nullable=True),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('started_by', sa.Integer(), nullable=True),
        sa.Column('due_at', TS, nullable=False),
        sa.Column('classes', sa.Integer(), nullable=False),
        sa.Column('students', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        _fk('screening_round', 'college_id', 'college'),
        _fk('screening_round', 'started_by', 'user_account'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_round')),
        sa.UniqueConstraint('number', name=op.f('uq_screening_round_number')),
        sa.UniqueConstraint('auto_key', name=op.f('uq_screening_round_auto_key')),
    )
    op.create_index(op.f('ix_screening_round_started_at'), 'screening_round', ['started_at'])
    op.create_table(
        'screening_college',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('college_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', TS, nullable=True),
        sa.Column('reviewed_by', sa.Integer(), nullable=True),
        _fk('screening_college', 'round_id', 'screening_round'),
        _fk('screening_college', 'college_id', 'college'),
        _fk('screening_college', 'instance_id', 'workflow_instance'),
        _fk('screening_college', 'reviewed_by', 'user_account'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_college')),
        sa.UniqueConstraint('round_id', 'college_id',
                            name=op.f('uq_screening_college_round_id')),
    )
    op.create_index(op.f('ix_screening_college_round_id'), 'screening_college', ['round_id'])
    op.create_index(op.f('ix_screening_college_instance_id'), 'screening_college',
                    ['instance_id'])


def _classes():
    op.create_table(
        'screening_class',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('college_id', sa.Integer(), nullable=False),
        sa.Column('counselor_id', sa.Integer(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('students', sa.Integer(), nullable=False),
        sa.Column('due_at', TS, nullable=False),
        sa.Column('done_at', TS, nullable=True),
        sa.Column('done_by', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=10), nullable=True),
        sa.Column('sheet_digest', sa.String(length=64), nullable=True),
        sa.Column('talked', sa.Integer(), nullable=False),
        sa.Column('flagged', sa.Integer(), nullable=False),
        sa.Column('not_reached', sa.Integer(), nullable=False),
        _fk('screening_class', 'round_id', 'screening_round'),
        _fk('screening_class', 'class_id', 'klass'),
        _fk('screening_class', 'college_id', 'college'),
        _fk('screening_class', 'counselor_id', 'user_account'),
        _fk('screening_class', 'instance_id', 'workflow_instance'),
        _fk('screening_class', 'task_id', 'task'),
        _fk('screening_class', 'done_by', 'user_account'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_class')),
        sa.UniqueConstraint('round_id', 'class_id', name=op.f('uq_screening_class_round_id')),
    )
    op.create_index(op.f('ix_screening_class_class_id'), 'screening_class', ['class_id'])
    op.create_index(op.f('ix_screening_class_college_id'), 'screening_class', ['college_id'])
    op.create_index(op.f('ix_screening_class_instance_id'), 'screening_class', ['instance_id'])
    op.create_index('ix_screening_class_round_state', 'screening_class',
                    ['round_id', 'state', 'due_at'])
    op.create_table(
        'screening_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('screening_class_id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=True),
        sa.Column('fraud_type', sa.String(length=50), nullable=True),
        sa.Column('behaviour', sa.String(length=50), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('followup_on', sa.Date(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('entered_by', sa.Integer(), nullable=True),
        sa.Column('entered_at', TS, nullable=False),
        _fk('screening_entry', 'round_id', 'screening_round'),
        _fk('screening_entry', 'screening_class_id', 'screening_class'),
        _fk('screening_entry', 'class_id', 'klass'),
        _fk('screening_entry', 'student_id', 'student'),
        _fk('screening_entry', 'case_id', 'case_file'),
        _fk('screening_entry', 'entered_by', 'user_account'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_entry')),
        sa.UniqueConstraint('round_id', 'student_id', name=op.f('uq_screening_entry_round_id')),
    )
    op.create_index(op.f('ix_screening_entry_student_id'), 'screening_entry', ['student_id'])
    op.create_index('ix_screening_entry_class', 'screening_entry',
                    ['screening_class_id', 'status'])


def upgrade():
    _warning()
    _rounds()
    _classes()


def downgrade():
    for table in ('screening_entry', 'screening_class', 'screening_college', 'screening_round',
                  'warning_candidate', 'warning'):
        op.drop_table(table)
