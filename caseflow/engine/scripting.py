"""Run BPMN scripts, conditions, timer expressions and DMN cells under RestrictedPython."""

from __future__ import annotations

import ast
import copy
import decimal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from RestrictedPython import (
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

# A model's script, condition or DMN cell that runs longer than this is stopped: a loop that
# never ends must not hold a request, or the worker and its lease on every timer, forever.
TIME_LIMIT = 2.0


class ScriptError(Exception):
    """A BPMN expression or script that the sandbox refuses or cannot compile."""


class ScriptTimeout(ScriptError):
    """A sandboxed script or expression ran longer than TIME_LIMIT seconds."""


_running = threading.local()


def _tick() -> None:
    """Stop the running script if its time is up (called on every turn of a loop)."""
    deadline = getattr(_running, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise ScriptTimeout(f"ran longer than {TIME_LIMIT:g} s: a loop that never ends?")


def _ticking(ob: Iterable[Any]) -> Iterator[Any]:
    for item in default_guarded_getiter(ob):
        _tick()
        yield item


class _LoopGuard(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus a time check on every turn of a `while` loop
    (`for` loops and comprehensions get theirs from `_getiter_`)."""

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        tick = ast.Expr(ast.Call(ast.Name("_tick_", ast.Load()), [], []))
        node.body.insert(0, ast.copy_location(tick, node))
        ast.fix_missing_locations(node)
        return node


_ALLOWED_EXTRA = {
    "dict": dict,
    "list": list,
    "set": set,
    "sum": sum,
    "min": min,
    "max": max,
    "any": any,
    "all": all,
    "len": len,
    "sorted": sorted,
    "enumerate": enumerate,
    "Decimal": decimal.Decimal,
}


def _builtins() -> dict[str, Any]:
    result = dict(safe_builtins)
    result.update(limited_builtins)
    result.update(_ALLOWED_EXTRA)
    return result


_BUILTINS = _builtins()

_GUARDS = {
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": _ticking,
    "_tick_": _tick,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
}

_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": lambda x, y: x + y,
    "-=": lambda x, y: x - y,
    "*=": lambda x, y: x * y,
    "/=": lambda x, y: x / y,
    "|=": lambda x, y: x | y,
    "&=": lambda x, y: x & y,
}


def _raise_compile_errors(kind: str, source: str, errors: tuple[str, ...]) -> None:
    # RestrictedPython's errors carry no SyntaxError line number, which breaks spiff's
    # error helper; turn them into one clear message instead.
    if errors:
        raise ScriptError(f"{kind} refused by the sandbox: {'; '.join(errors)} in {source!r}")


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Any:
    """Compile one expression in the sandbox (cached by source)."""
    result = compile_restricted_eval(source.strip(), "<expression>", policy=_LoopGuard)
    _raise_compile_errors("expression", source, result.errors)
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> Any:
    """Compile one script in the sandbox (cached by source)."""
    result = compile_restricted_exec(source, "<string>", policy=_LoopGuard)
    _raise_compile_errors("script", source, result.errors)
    return result.code


def base_globals(functions: Mapping[str, Callable[..., Any]] | None = None) -> dict[str, Any]:
    """Return the globals every sandboxed expression sees."""
    env: dict[str, Any] = {"__builtins__": _BUILTINS, **_GUARDS}
    if functions:
        env.update(functions)
    return env


class RestrictedEnvironment(TaskDataEnvironment):
    """A task-data environment whose code runs under RestrictedPython."""

    def evaluate(
        self, expression: str, context: dict, external_context: dict | None = None
    ) -> Any:
        """Evaluate an expression against task data (and data objects)."""
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        with _TimeLimit():
            return eval(compile_expression(expression), my_globals)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        """Execute a script that reads and writes task data."""
        self.check_for_overwrite(context, external_context or {})
        code = compile_script(script)
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        context.update(my_globals)
        try:
            with _TimeLimit():
                exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            for name in _GUARDS:
                context.pop(name, None)
        return True


class _TimeLimit:
    """Give the code run inside TIME_LIMIT seconds, or the outer code's deadline if sooner."""

    def __enter__(self) -> None:
        self.outer = getattr(_running, "deadline", None)
        mine = time.monotonic() + TIME_LIMIT
        _running.deadline = mine if self.outer is None else min(mine, self.outer)

    def __exit__(self, *exc: object) -> None:
        _running.deadline = self.outer


@lru_cache(maxsize=4096)
def _parses(expression: str) -> bool:
    try:
        ast.parse(expression)
    except SyntaxError:
        return False
    return True


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, with the syntax checks of DMN cells cached."""

    def validate(self, expression: str) -> None:
        """Raise SyntaxError if `expression` is not Python, as the stock engine does."""
        # The DMN engine checks each input and cell this way (twice for a cell such as
        # "> 5") on every evaluation: 58 parses in a fraud_case talk step.
        if not _parses(expression):
            raise SyntaxError(f"invalid syntax: {expression!r}")


def make_script_engine(
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> PythonScriptEngine:
    """Return a script engine whose code runs in the sandbox with the given helper functions."""
    return SandboxScriptEngine(environment=RestrictedEnvironment(base_globals(functions)))
