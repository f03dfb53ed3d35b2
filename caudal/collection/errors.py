"""Refusals of collection actions, with a code an API client can branch on."""

from __future__ import annotations

from caudal.kernel.errors import DomainError


class PaymentRefused(DomainError):
    """A payment, lookup or reversal was refused. ``code`` is stable (API clients use it);
    ``status`` is the HTTP status the API answers with; the message is Spanish."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


UNKNOWN_REFERENCE = "unknown_reference"  # 404
NOTHING_DUE = "nothing_due"  # 409
WRONG_AMOUNT = "wrong_amount"  # 422
KEY_REUSED = "idempotency_key_reused"  # 409: same key, different request
ALREADY_REVERSED = "already_reversed"  # 409
DAY_CLOSED = "day_closed"  # 409
NOT_SAME_DAY = "not_same_day"  # 409
NOT_FOUND = "not_found"  # 404
INACTIVE = "inactive"  # 403
INVALID = "invalid"  # 422
