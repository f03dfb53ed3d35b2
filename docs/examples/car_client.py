#!/usr/bin/env python3
"""Example client of the Caudal API for a collection centre (CAR) or bank: standard library
only (urllib), Python 3.8 or later.

    python docs/examples/car_client.py --base http://127.0.0.1:8000 --key cau_... \\
        --reference 10000001

1. looks up what the reference (account number or bill payment reference) owes;
2. pays it with a new idempotency key (``--amount`` in minor units, default: what is due);
3. sends the very same request again, as a centre does when an answer is lost: the API
   answers 200 with ``Idempotent-Replayed: true`` and the same payment, nothing is posted
   twice;
4. reverses the payment (same day, before the day is closed), unless ``--keep``.

Every answer is printed. Exit status 0 on success, 1 when the API refuses (its error
``code`` is printed), 2 when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

RETRIES = 5  # attempts of one request when the server does not answer or answers 5xx


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('message')}")
        self.status = status
        self.body = body


class Unreachable(Exception):
    """No answer from the server after every retry."""


class Caudal:
    """A minimal client: JSON in and out, the key in ``Authorization``."""

    def __init__(self, base: str, key: str, timeout: float = 15) -> None:
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"--base must be an http(s) URL, not {base!r}")
        self.base = base.rstrip("/") + "/api/v1"
        self.key = key
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """One request; retried (same method, path, body and headers, so the same
        idempotency key) when the connection fails or the server answers 5xx."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        for attempt in range(1, RETRIES + 1):
            request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
                self.base + path, data=data, headers=all_headers, method=method
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return response.status, dict(response.headers), json.loads(response.read())
            except urllib.error.HTTPError as exc:
                answer = json.loads(exc.read() or b"{}")
                if exc.code < 500 or attempt == RETRIES:
                    raise ApiError(exc.code, answer) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == RETRIES:
                    raise Unreachable(str(exc)) from exc
            time.sleep(0.5 * attempt)  # then the very same request again
        raise AssertionError("unreachable")

    def debt(self, reference: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"reference": reference})
        return self.call("GET", f"/debt?{query}")[2]

    def pay(
        self, idempotency_key: str, reference: str, amount: int, method: str = "cash"
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        return self.call(
            "POST",
            "/payments",
            {"reference": reference, "amount": amount, "method": method},
            {"Idempotency-Key": idempotency_key},
        )

    def reverse(self, payment_id: int, reason: str) -> dict[str, Any]:
        return self.call("POST", f"/payments/{payment_id}/reversal", {"reason": reason})[2]


def money(minor: int, currency: str) -> str:
    return f"{currency} {minor // 100:,}.{minor % 100:02d}"


def show(title: str, status: int, body: dict[str, Any], replayed: bool = False) -> None:
    extra = "  (Idempotent-Replayed: true)" if replayed else ""
    print(f"\n== {title}: HTTP {status}{extra}")
    print(json.dumps(body, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="server URL")
    parser.add_argument("--key", required=True, help="the centre's key, cau_<prefix>_<secret>")
    parser.add_argument("--reference", required=True, help="account number or bill reference")
    parser.add_argument("--amount", type=int, help="minor units (céntimos); default: what is due")
    parser.add_argument("--method", default="cash", choices=["cash", "card", "cheque", "transfer"])
    parser.add_argument("--keep", action="store_true", help="do not reverse the payment")
    args = parser.parse_args(argv)
    api = Caudal(args.base, args.key)
    try:
        owed = api.debt(args.reference)
        show(f"Deuda de {args.reference}", 200, owed)
        currency = owed["currency"]
        amount = args.amount if args.amount is not None else owed["due"]
        if amount <= 0:
            print("\nNada que cobrar para esta referencia.")
            return 0
        key = f"demo-{uuid.uuid4()}"  # one key per payment; keep it until answered
        print(f"\nCobrando {money(amount, currency)} con Idempotency-Key {key}")
        status, headers, payment = api.pay(key, args.reference, amount, args.method)
        show("Pago registrado", status, payment)
        # The centre did not get (or lost) the answer: it sends the same request again.
        status, headers, again = api.pay(key, args.reference, amount, args.method)
        show(
            "Reintento con la misma clave",
            status,
            again,
            headers.get("Idempotent-Replayed") == "true",
        )
        assert again["id"] == payment["id"], "a retry must never post a second payment"
        if not args.keep:
            reversed_ = api.reverse(payment["id"], "Prueba del cliente de ejemplo")
            show("Pago reversado", 200, reversed_)
    except ApiError as exc:
        print(f"\nRechazado: HTTP {exc.status} {exc.body.get('code')}: {exc.body.get('message')}")
        for problem in exc.body.get("errors") or []:
            print(f"  - {problem['field']}: {problem['message']}")
        return 1
    except Unreachable as exc:
        print(f"\nNo se pudo contactar al servidor {args.base}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
