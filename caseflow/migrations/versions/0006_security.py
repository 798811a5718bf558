"""security: signed-in sessions, sign-in throttling, TOTP second factors, API tokens

Revision ID: 0006
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _user_fk(table, column='user_id'):
    return sa.ForeignKeyConstraint([column], ['user_account.id'],
                                   name=op.f(f'fk_{table}_{column}_user_account'))


def upgrade():
    op.create_table(
        'login_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('ended_at', TS, nullable=True),
        sa.Column('ended_reason', sa.String(length=20), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=True),
        _user_fk('login_session'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    )
    op.create_index(op.f('ix_login_session_user_id'), 'login_session', ['user_id'])
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('lockouts', sa.Integer(), nullable=False),
        sa.Column('locked_until', TS, nullable=True),
        sa.Column('last_failure_at', TS, nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle')),
    )
    op.create_table(
        'totp_credential',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('confirmed_at', TS, nullable=True),
        sa.Column('last_counter', sa.BigInteger(), nullable=True),
        _user_fk('totp_credential'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_totp_credential')),
    )
    op.create_table(
        'totp_required_role',
        sa.Column('role', sa.String(length=30), nullable=False),
        sa.Column('set_by', sa.Integer(), nullable=True),
        sa.Column('set_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('role', name=op.f('pk_totp_required_role')),
    )
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=12), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('roles', sa.String(length=300), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=True),
        sa.Column('revoked_at', TS, nullable=True),
        sa.Column('revoked_by', sa.Integer(), nullable=True),
        sa.Column('last_used_at', TS, nullable=True),
        _user_fk('api_token'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash')),
    )
    op.create_index(op.f('ix_api_token_user_id'), 'api_token', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_api_token_user_id'), table_name='api_token')
    op.drop_table('api_token')
    op.drop_table('totp_required_role')
    op.drop_table('totp_credential')
    op.drop_table('login_throttle')
    op.drop_index(op.f('ix_login_session_user_id'), table_name='login_session')
    op.drop_table('login_session')
