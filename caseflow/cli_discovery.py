"""`caseflow screening …` and `caseflow warning …`: screening rounds and police warnings.

`caseflow screening start --if-due` is the 14-day timer: the worker loop runs it (it
starts a school-wide round when the last one is `screening_cycle` old, and gives tasks a
timer opened their college, class and counselor).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from caseflow.cli_common import app_context as _app_context
from caseflow.cli_common import cli_actor, refusals


def _sheet_problems(exc: Exception) -> list[str]:
    lines = [f"refused: nothing was imported; {len(exc.problems)} problem(s):"]  # type: ignore[attr-defined]
    for problem in exc.errors["rows"]:  # type: ignore[attr-defined]  # worded with the app at hand
        where = f"row {problem['row']}" if problem["row"] else "sheet"
        lines.append(f"  {where}, {problem['column']}: {problem['message']}")
    return lines


def _refusals(func: Callable[..., Any]) -> Callable[..., Any]:
    """Word refusals (a rejected sheet lists every problem) as the other commands do."""
    from caseflow.services.sheets import SheetRejected

    return refusals({SheetRejected: _sheet_problems})(func)


def _actor(user: Any = None) -> Any:
    """Return the account a command acts as, or else the OS user running it (cli:<user>)."""
    from caseflow import audit

    if user is None:
        return cli_actor(None)
    return audit.Actor(user.id, user.username, user.role_names[0] if user.roles else None)


def _user(username: str | None) -> Any:
    from sqlalchemy import select

    from caseflow.db import db
    from caseflow.models import User
    from caseflow.services import NotFound

    if not username:
        return None
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


# -- screening -------------------------------------------------------------------------

@click.group("screening")
def screening_group() -> None:
    """Screening rounds (涉诈隐患摸排): start, class templates, sheet imports, late classes."""


@screening_group.command("start")
@click.option("--cohort", type=click.Choice(["all", "freshmen", "interns", "key_groups"]),
              default="all", show_default=True, help="who the round covers")
@click.option("--college", "college", default=None, help="only this college (code)")
@click.option("--due-days", type=click.IntRange(1, 60), default=None,
              help="days until the class screenings are due (default: the setting)")
@click.option("--if-due", is_flag=True,
              help="the timer: start a school-wide round only when the cycle has passed")
@_refusals
def screening_start(cohort: str, college: str | None, due_days: int | None,
                    if_due: bool) -> None:
    """Start a round: one class screening per class in scope, one review per college."""
    from caseflow import timefmt
    from caseflow.services import screening

    with _app_context():
        if if_due:
            fixed, filed, rnd = screening.worker_job()
            if fixed:
                click.echo(f"scoped {fixed} task(s) opened by timers")
            if filed:
                click.echo(f"filed {filed} flagged student(s) left by imports")
            if rnd is None:
                click.echo("no round due")
                return
        else:
            rnd = screening.start_round(None, _actor(), cohort=cohort,
                                        college_code=college, due_days=due_days,
                                        trigger="cli")
        click.echo(f"started round {rnd.number}: {rnd.classes} classes, {rnd.students} "
                   f"students, due {timefmt.short(rnd.due_at)}")


@screening_group.command("template")
@click.option("--class", "class_code", required=True, help="the class code")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="the file to write (.xlsx or .csv)")
@click.option("--round", "round_id", type=int, default=None, help="default: the latest")
@_refusals
def screening_template(class_code: str, output: str, round_id: int | None) -> None:
    """Write a class's sheet template, every student in scope pre-listed."""
    from caseflow.services import screening_import

    kind = "csv" if output.lower().endswith(".csv") else "xlsx"
    with _app_context():
        _, content = screening_import.template(class_code, kind, round_id=round_id)
    Path(output).write_bytes(content)
    click.echo(f"wrote {output} ({len(content)} bytes)")


@screening_group.command("import")
@click.option("--class", "class_code", required=True, help="the class code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "username", default=None,
              help="who submits it (default: the class's counselor)")
@click.option("--round", "round_id", type=int, default=None, help="default: the latest")
@_refusals
def screening_import_cmd(class_code: str, file: str, username: str | None,
                         round_id: int | None) -> None:
    """Import a class's filled-in sheet (all or nothing)."""
    from caseflow.db import db
    from caseflow.models import User
    from caseflow.services import NotFound, screening_import

    with _app_context():
        user = _user(username)
        if user is None:
            sc = screening_import.find_class(class_code, round_id)
            user = db.session.get(User, sc.counselor_id) if sc.counselor_id else None
            if user is None:
                raise NotFound(f"class {class_code} has no counselor: give --as USERNAME")
        result = screening_import.import_sheet(class_code, Path(file).read_bytes(), user,
                                               _actor(user), round_id)
        click.echo(_imported(result))


SHEET_SUFFIXES = (".xlsx", ".csv")


def _sheet_files(paths: tuple[str, ...]) -> list[Path]:
    """Return the files named, and the .xlsx/.csv files in each folder named, in order."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir()
                              if p.is_file() and p.suffix.lower() in SHEET_SUFFIXES))
        else:
            out.append(path)
    return out


def _read_sheet(path: Path, limit: int) -> bytes:
    """Read at most `limit` + 1 bytes: enough for the import to refuse a file too large."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}; nothing was "
                                   "imported") from exc


@screening_group.command("import-many")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--as", "username", default=None,
              help="who submits them all (default: each class's counselor)")
@click.option("--round", "round_id", type=int, default=None, help="default: the latest")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="processes that read the sheets while this one writes")
@_refusals
def screening_import_many(paths: tuple[str, ...], username: str | None,
                          round_id: int | None, workers: int) -> None:
    """Import many classes' sheets at once (files, or folders of .xlsx/.csv): each sheet
    all or nothing, its class read from the template's file name or, renamed, its mark;
    exit 1 if any sheet is refused."""
    from caseflow.cli_common import explain
    from caseflow.services import ServiceError, screening, screening_batch
    from caseflow.services.sheets import SheetRejected

    files = _sheet_files(paths)
    if not files:
        raise click.UsageError("no .xlsx or .csv file in the paths given")
    with _app_context():
        limit = screening.max_upload()
        sheets = [(f.name, _read_sheet(f, limit)) for f in files]
        prepared = screening_batch.uploads_of(sheets, _user(username), _actor, round_id)
        ready = [p for p in prepared if isinstance(p, screening_batch.Upload)]
        done = iter(screening_batch.import_many(ready, round_id, workers=workers))
        results = [p if isinstance(p, ServiceError) else next(done) for p in prepared]
        refused = 0
        for file, result in zip(files, results, strict=True):
            if isinstance(result, ServiceError):
                refused += 1
                lines = explain(result, {SheetRejected: _sheet_problems}) or [str(result)]
                click.echo(f"{file.name}: {lines[0]}")
                for line in lines[1:]:
                    click.echo(line)
            else:
                click.echo(f"{file.name}: {_imported(result)}")
        click.echo(f"{len(files) - refused} of {len(files)} sheets imported, {refused} "
                   f"refused; {sum(getattr(r, 'cases_opened', 0) for r in results)} cases "
                   f"opened")
    if refused:
        raise SystemExit(1)


def _imported(result: Any) -> str:
    """Say what one sheet's import did."""
    if result.already:
        return (f"class {result.screening_class.klass.code} already imported: nothing new "
                f"({result.cases_opened} cases opened, {result.findings_attached} findings "
                f"attached that were missing)")
    text = (f"imported {result.entries} students of class "
            f"{result.screening_class.klass.code} ({result.source}): {result.cases_opened} "
            f"cases opened, {result.findings_attached} findings attached, "
            f"{result.followups} follow-up days")
    return text + (f"; not filed yet: {result.filing_error}" if result.filing_error else "")


@screening_group.command("late")
@click.option("--round", "round_id", type=int, default=None, help="default: the latest")
@_refusals
def screening_late(round_id: int | None) -> None:
    """List the classes past the due date and the students not reached."""
    from caseflow import timefmt
    from caseflow.services import screening_progress as progress

    with _app_context():
        late = progress.late_classes(round_id)
        unreached = progress.unreached_students(round_id)
        click.echo(f"{len(late)} late classes")
        for c in late:
            click.echo(f"  {c.college} {c.class_code} {c.class_name}: due "
                       f"{timefmt.short(c.due_at)}, {c.students} students")
        click.echo(f"{len(unreached)} students not reached")
        for u in unreached:
            click.echo(f"  {u.class_code} {u.student_no} {u.name}: {u.reason or ''} "
                       f"(follow-up {u.followup_on})")


# -- warnings ------------------------------------------------------------------------------

@click.group("warning")
def warning_group() -> None:
    """Police warnings (预警劝阻): enter one, list those waiting for a student."""


@warning_group.command("add")
@click.option("--phone", default=None)
@click.option("--id-card", "id_card", default=None)
@click.option("--name", default=None)
@click.option("--college", "college", default=None, help="college code (narrows a name)")
@click.option("--at", "warned_at", required=True, help="time of the warning (ISO 8601)")
@click.option("--fraud-type", "fraud_type", required=True, help="a fraud_type code")
@click.option("--urgency", type=click.Choice(["urgent", "high", "normal"]), default="urgent")
@click.option("--ref", "source_ref", default=None, help="the police platform's reference")
@click.option("--note", default=None)
@_refusals
def warning_add(phone: str | None, id_card: str | None, name: str | None,
                college: str | None, warned_at: str, fraud_type: str, urgency: str,
                source_ref: str | None, note: str | None) -> None:
    """Enter a police warning; it is matched and, on an exact match, dissuasion starts."""
    from sqlalchemy import select

    from caseflow.db import db
    from caseflow.models import College
    from caseflow.services import warnings

    with _app_context():
        college_id = db.session.scalar(select(College.id).where(College.code == college)) \
            if college else None
        data = {"phone": phone, "id_card": id_card, "name": name, "college_id": college_id,
                "warned_at": warned_at, "fraud_type": fraud_type, "urgency": urgency,
                "source_ref": source_ref, "note": note}
        warning = warnings.add_warning({k: v for k, v in data.items() if v is not None},
                                       None, _actor(), source="cli")
        click.echo(f"warning {warning.number}: {warning.state}")


@warning_group.command("list")
@_refusals
def warning_list() -> None:
    """List warnings still waiting for a student (unmatched, or with candidates)."""
    from sqlalchemy import select

    from caseflow import masking, timefmt
    from caseflow.db import db
    from caseflow.models import PoliceWarning, WarningCandidate

    with _app_context():
        rows = db.session.scalars(select(PoliceWarning).where(
            PoliceWarning.state.in_(("unmatched", "candidates")))
            .order_by(PoliceWarning.warned_at)).all()
        for w in rows:
            count = len(db.session.scalars(select(WarningCandidate.id).where(
                WarningCandidate.warning_id == w.id)).all())
            click.echo(f"{w.number} {timefmt.short(w.warned_at)} {w.state} "
                       f"{masking.phone(w.phone) or '-'} {w.name or '-'} ({count} candidates)")
        click.echo(f"{len(rows)} warning(s) waiting for a student")
