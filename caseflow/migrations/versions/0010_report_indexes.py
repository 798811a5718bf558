"""report indexes: covering case and spec-led task indexes, and finding.opening

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COVER = ['withdrawn', 'college_id', 'class_id', 'student_id', 'counselor_id',
         'registered_by', 'loss_cny', 'recovered_cny', 'fraud_type', 'behaviour', 'state',
         'downgraded']

# The dashboard's case figures group by type, behaviour, state and outcome and filter by
# the viewer's scope (college, class, counselor, registrar): 0008's indexes lacked those,
# so every row in a period was read from the table. The category-led index answers the
# at-risk branch from at-risk rows alone; the happened one (registered_at second) answers
# the 'no 案发时间' branch from its NULL prefix. The spec-led task indexes answer the
# stop-payment and psych-referral figures without reading the table.
ADDED = (
    ('ix_case_happened_figures', 'case_file', ['happened_at', 'registered_at', 'category',
                                               *COVER]),
    ('ix_case_registered_figures', 'case_file', ['registered_at', 'category', 'happened_at',
                                                 *COVER]),
    ('ix_case_category_registered', 'case_file', ['category', 'registered_at', 'happened_at',
                                                  *COVER]),
    ('ix_task_spec_report', 'task', ['task_spec', 'created_at', 'state', 'completed_at',
                                     'case_id']),
    ('ix_task_spec_completed', 'task', ['task_spec', 'state', 'completed_at', 'case_id']),
    ('ix_finding_later', 'finding', ['opening', 'created_at', 'case_id']),
)
REPLACED = (
    ('ix_case_happened_report', 'case_file',
     ['happened_at', 'category', 'withdrawn', 'college_id', 'class_id', 'student_id',
      'loss_cny']),
    ('ix_case_registered_report', 'case_file',
     ['registered_at', 'category', 'withdrawn', 'happened_at', 'college_id', 'class_id',
      'student_id', 'loss_cny']),
    ('ix_task_spec_created', 'task', ['task_spec', 'created_at']),
)


def upgrade():
    op.add_column('finding', sa.Column('opening', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    # only a case's first finding made at its registration time: the report's 'late'
    # condition relies on an opening finding's case being registered at that moment
    op.execute("UPDATE finding SET opening = TRUE WHERE id IN "
               "(SELECT min(id) FROM finding GROUP BY case_id) AND created_at = "
               "(SELECT registered_at FROM case_file WHERE case_file.id = finding.case_id)")
    for name, table, columns in ADDED:
        op.create_index(name, table, columns)
    for name, table, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _columns in reversed(ADDED):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('finding') as batch:
        batch.drop_column('opening')
