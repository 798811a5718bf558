"""workflow state compressed with zlib on SQLite: a case's state takes a sixth of the space

Revision ID: 0014
Revises: 0013

A workflow state is about 40 KB of JSON, so an SQLite database of 20,000 cases was 1 GB,
nearly all of it state. caseflow now writes the state on SQLite as a zlib-compressed BLOB
(models.base.StateText); this rewrites the rows written before, in batches. The JSON
itself is unchanged, byte for byte. The file shrinks at the next `VACUUM`. PostgreSQL
compresses the column itself (lz4, 0012) and is unchanged.
"""
import zlib

from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BATCH = 500


def _rewrite(bind, stored_as: str, convert) -> None:
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, state FROM workflow_instance WHERE id > :last "
            "AND typeof(state) = :kind ORDER BY id LIMIT :n"),
            {"last": last, "kind": stored_as, "n": BATCH}).all()
        if not rows:
            return
        bind.execute(sa.text("UPDATE workflow_instance SET state = :state WHERE id = :id"),
                     [{"id": row.id, "state": convert(row.state)} for row in rows])
        last = rows[-1].id


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        _rewrite(bind, 'text', lambda text: zlib.compress(text.encode(), 1))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        _rewrite(bind, 'blob', lambda blob: zlib.decompress(blob).decode())
