"""Pure rules of billing: plain data in, plain data out; no ORM (see docs/architecture.md)."""

from __future__ import annotations
