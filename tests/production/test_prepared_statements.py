"""On PostgreSQL a transaction that only read ends with COMMIT, so psycopg keeps the
statements it prepared; anything else still ends with a real ROLLBACK that undoes it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from caseflow.db import db
from caseflow.models import Setting, User

ROUNDS = 7  # psycopg prepares a statement the fifth time it runs on a connection


def _prepared() -> list[str]:
    return list(db.session.scalars(text("SELECT statement FROM pg_prepared_statements")))


def _read_users(then: str = "") -> None:
    for _ in range(ROUNDS):
        db.session.execute(select(User.id).where(User.id > 0)).all()
        if then:
            db.session.execute(text(then))
        db.session.rollback()


def test_a_transaction_that_only_read_keeps_its_prepared_statements(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        # nothing to keep: SQLite's rollback is left as SQLAlchemy has it
        assert "do_rollback" not in vars(db.engine.dialect)
        return
    _read_users()
    assert any("FROM user_account" in s for s in _prepared())


WROTE = ("INSERT INTO setting (key, value, updated_at) "
         "VALUES ('school.name', '\"rolled back\"', CURRENT_TIMESTAMP)")
LOCKED_OR_SET = [
    "SELECT id FROM user_account FOR UPDATE",
    "SELECT id FROM user_account FOR NO KEY UPDATE",
    "SET statement_timeout = '7s'",
]


def test_a_transaction_that_locked_set_or_wrote_is_rolled_back(app: Flask) -> None:
    postgresql = db.engine.dialect.name == "postgresql"
    for then in [WROTE, *(LOCKED_OR_SET if postgresql else [])]:
        _read_users(then)  # the insert, committed once, would collide with itself after
        assert db.session.get(Setting, "school.name") is None, then
        if postgresql:
            # psycopg forgets its prepared statements on a real ROLLBACK only
            assert not any("FROM user_account" in s for s in _prepared()), then
            assert db.session.scalar(text("SHOW statement_timeout")) == "0"
        db.session.rollback()


def test_a_rolled_back_write_is_undone(app: Flask) -> None:
    for _ in range(ROUNDS):
        db.session.execute(select(Setting.key)).all()
    db.session.add(Setting(key="school.name", value='"rolled back"'))
    db.session.flush()
    db.session.rollback()
    assert db.session.get(Setting, "school.name") is None


def test_a_transaction_in_error_is_rolled_back_and_the_connection_works(app: Flask) -> None:
    _read_users()
    with pytest.raises(DBAPIError):
        db.session.execute(text("SELECT * FROM no_such_table")).all()
    db.session.rollback()
    assert db.session.scalar(text("SELECT 2")) == 2
