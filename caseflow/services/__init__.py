"""Use cases: check permission, run the engine, write the audit trail, commit once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from caseflow.engine import ProcessFault

T = TypeVar("T")


class ServiceError(Exception):
    """A request the service refuses; views turn it into an HTTP answer."""

    status = 400
    code = "bad_request"


class NotFound(ServiceError):
    """The object does not exist or is outside the user's scope (never say which)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """Someone else changed the object first (a task completed twice, a stale version)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, **info: Any) -> None:
        super().__init__(message)
        self.info = info


class ValidationFailed(ServiceError):
    """Submitted data failed its schema; `errors` maps field → list of messages."""

    status = 422
    code = "validation_failed"

    def __init__(self, errors: dict[str, Any], message: str | None = None) -> None:
        super().__init__(message or f"the form has errors: {errors}")
        self.errors = errors


class Forbidden(ServiceError):
    """The user may see the object but not do this to it."""

    status = 403
    code = "forbidden"


class ProcessFailed(ServiceError):
    """The process model failed at one of its elements; the step was rolled back.

    The model (a script, condition or decision) needs an administrator: trying again with
    the same data will not help, so this is the server's error, not a conflict. `fault` is
    the engine's ProcessFault: the element, the error, and where in the model.
    """

    status = 500
    code = "process_failed"

    def __init__(self, fault: ProcessFault) -> None:
        super().__init__(f"the process could not go on at {fault.element_name or '-'} "
                         f"({fault.element_id}): {fault.reason}")
        self.fault = fault

    @property
    def element_id(self) -> str:
        """Return the id of the element that failed."""
        return self.fault.element_id

    @property
    def element_name(self) -> str:
        """Return the name of the element that failed (may be empty)."""
        return self.fault.element_name

    @property
    def reason(self) -> str:
        """Return the error and where in the model (its message may quote case data)."""
        return self.fault.reason


def commit_work(result: T, before_commit: Callable[[T], None] | None = None) -> T:
    """Commit the unit of work and return its result.

    `before_commit(result)`, given by the caller, adds to the same transaction first: the
    API stores its answer to a request with an Idempotency-Key there, so the answer exists
    exactly when the work does (caseflow.services.idempotency).
    """
    from caseflow.db import db

    if before_commit is not None:
        db.session.flush()  # ids, numbers and defaults, as the caller will see them
        before_commit(result)
    db.session.commit()
    return result
