"""Run BPMN scripts, conditions, timer expressions and DMN cells under RestrictedPython."""

from __future__ import annotations

import ast
import copy
import decimal
from collections.abc import Callable, Mapping
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
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment


class ScriptError(Exception):
    """A BPMN expression or script that the sandbox refuses or cannot compile."""


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
    "_getiter_": default_guarded_getiter,
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
    result = compile_restricted_eval(source.strip(), "<expression>")
    _raise_compile_errors("expression", source, result.errors)
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> Any:
    """Compile one script in the sandbox (cached by source)."""
    result = compile_restricted_exec(source, "<string>")
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
        return eval(compile_expression(expression), my_globals)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        """Execute a script that reads and writes task data."""
        self.check_for_overwrite(context, external_context or {})
        code = compile_script(script)
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        context.update(my_globals)
        try:
            exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            for name in _GUARDS:
                context.pop(name, None)
        return True


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
