"""`caseflow instances …`: which versions running cases are on, and moving them after a fix."""

from __future__ import annotations

import sys

import click

from caseflow.cli_common import app_context, cli_actor, refusals


@click.group("instances")
def instances_group() -> None:
    """See which process versions running cases are on; move them to a fixed version."""


@instances_group.command("list")
@click.argument("process_id", required=False)
@refusals()
def list_versions(process_id: str | None) -> None:
    """List the deployed versions (of PROCESS_ID, or all) and how many instances run on each."""
    from caseflow import timefmt
    from caseflow.services import migration

    with app_context():
        found = migration.versions(process_id)
    if not found:
        click.echo(f"no deployed versions{f' of {process_id}' if process_id else ''}")
        return
    for v in found:
        mark = "  <- new instances start here" if v.current else ""
        click.echo(f"{v.process_id}  version {v.version_id}  {v.source_hash[:12]}  deployed "
                   f"{timefmt.short(v.deployed_at)}  running: {v.running}{mark}")


@instances_group.command("migrate")
@click.argument("process_id")
@click.option("--to", "to_version", type=int, default=None,
              help="the version to move to (default: the one new instances start on)")
@click.option("--from", "from_version", type=int, default=None,
              help="move only the instances on this version")
@click.option("--case", "case_numbers", multiple=True, metavar="NUMBER",
              help="move only this case's instance (may be given several times)")
@click.option("--dry-run", is_flag=True,
              help="say what would move and what would not; change nothing")
@refusals()
def migrate(process_id: str, to_version: int | None, from_version: int | None,
            case_numbers: tuple[str, ...], dry_run: bool) -> None:
    """Move running instances of PROCESS_ID onto a fixed version.

    Each instance keeps its open steps (same assignee, same due time) and waiting timers,
    and moves in a transaction of its own, recorded as a `process_migrated` audit event.
    An instance whose current or next steps the target version removed or rewired stays
    where it is, and the reason is printed. Exits 1 if any instance could not move.
    """
    from caseflow.services import migration

    with app_context():
        moves = migration.move(process_id, cli_actor(), to_version=to_version,
                               from_version=from_version, case_numbers=case_numbers,
                               dry_run=dry_run)
    if not moves:
        click.echo("nothing to move: no running instance is on another version")
        return
    for m in moves:
        who = f"case {m.case_number}" if m.case_number else "no case"
        head = f"instance {m.instance_id} ({who}): version {m.from_version} -> {m.to_version}"
        changed = f" (changed: {', '.join(m.changed)})" if m.changed else ""
        if m.possible:
            click.echo(f"{head}: {'would move' if dry_run else 'moved'}{changed}")
        else:
            click.echo(f"{head}: stays: {'; '.join(m.blockers)}", err=True)
    stayed = sum(1 for m in moves if not m.possible)
    verb = "would move" if dry_run else "moved"
    click.echo(f"{verb} {len(moves) - stayed} of {len(moves)}; {stayed} stay")
    sys.exit(1 if stayed else 0)
