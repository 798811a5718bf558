"""`caseflow settings list|get|set`: read and change the school settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from caseflow.cli_common import app_context as _app_context
from caseflow.cli_common import cli_actor, refusals


def _refusals(func: Callable[..., Any]) -> Callable[..., Any]:
    """Word a refused value or an unknown key in one line (exit 1)."""
    from caseflow.settings import UnknownSetting

    def unknown(exc: Exception) -> list[str]:
        return [f"refused: {exc.args[0]}: `caseflow settings list` shows them"]

    return refusals({UnknownSetting: unknown})(func)


@click.group("settings")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="language of labels, values and messages")
@click.pass_context
def settings_group(ctx: click.Context, lang: str) -> None:
    """Read and change the school settings (due times, thresholds, the lead office…)."""
    ctx.obj = {"lang": lang}


def _lang() -> str:
    ctx = click.get_current_context()
    return str((ctx.find_object(dict) or {}).get("lang", "en"))


@settings_group.command("list")
@_refusals
def list_settings() -> None:
    """List every setting by group: value, default, and who changed it last."""
    from caseflow import timefmt
    from caseflow.services import settings_admin

    lang = _lang()
    with _app_context():
        infos = settings_admin.describe_all(lang)
    for _, label, items in settings_admin.grouped(infos):
        click.echo(f"[{label}]")
        for info in items:
            mark = "" if info.is_default else " *"
            click.echo(f"  {info.key} = {json.dumps(info.value, ensure_ascii=False)}{mark}")
            click.echo(f"      {info.label}: {info.display}")
            if not info.is_default:
                when = timefmt.short(info.changed_at)
                click.echo(f"      default: {info.default_display}; changed by "
                           f"{info.changed_by or 'cli'} at {when}")


@settings_group.command("get")
@click.argument("key")
@click.option("-v", "--verbose", is_flag=True, help="also show the meaning and the default")
@_refusals
def get_setting(key: str, verbose: bool) -> None:
    """Print a setting's value as JSON."""
    from caseflow.services import settings_admin

    lang = _lang()
    with _app_context():
        info = settings_admin.describe(key, lang)
    click.echo(json.dumps(info.value, ensure_ascii=False, sort_keys=True))
    if verbose:
        click.echo(f"{info.label}: {info.display}")
        click.echo(info.meaning)
        click.echo(f"default: {info.default_display}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--reason", default="", help="why the value changes (required, audited)")
@_refusals
def set_setting(key: str, value: str, reason: str) -> None:
    """Change a setting, e.g. `set due.talk red=PT2H,orange=PT12H,yellow=PT48H --reason …`."""
    from caseflow.services import settings_admin

    lang = _lang()
    actor = cli_actor(None)
    with _app_context():
        result = settings_admin.change(key, value, reason, actor, None, lang=lang)
    click.echo(f"changed {result.summary(lang)}")
    note = result.note(lang)
    if note:
        click.echo(note)
