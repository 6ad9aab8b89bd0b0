"""The seed documents' own design, as a benchmark peer of fedgate's gateway.

A FastAPI producer API on confluent-kafka (librdkafka), one uvicorn worker,
started by bench/peer.ts with a JSON config (argv[1]) written from fedgate's
own topology, certificates and JWT keys. It does the gateway's publish work
for price events, and no less:

- the same ES256 access token, verified with PyJWT against the site's JWKS:
  algorithm pinned, issuer, audience, exp required, typ JWT or at+jwt, scope
  publish:price; verified tokens are cached as the gateway caches them;
- the same validation (pydantic): product id pattern, a known region, an ISO
  4217 currency with its minor digits (the table comes from the gateway's
  own currency-codes package), amount or minor, normalised to minor units;
- the same records, over the same mTLS listener as the gateway's principal:
  mode `identical` writes per event the routed record with its nine
  CloudEvents headers, one monitoring record (published and routed) and one
  idempotency-window record, exactly as gateway/distributor.ts; mode
  `native` writes the seeds' one record per event, the event as JSON, no
  headers;
- 202 only after every record is acknowledged (acks=all).

Benchmark code only: never started by fedgate itself.
"""

import asyncio
import json
import re
import secrets
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Dict, List, Optional

import jwt
import uvicorn
from confluent_kafka import Producer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Extra, ValidationError, root_validator, validator

with open(sys.argv[1], encoding="utf-8") as f:
    CONFIG = json.load(f)
MODE: str = CONFIG["mode"]
SITE: str = CONFIG["site"]
SOURCE = f"/fedgate/sites/{SITE}"
DIGITS: Dict[str, int] = CONFIG["currencyDigits"]
ROUTES: Dict[str, dict] = CONFIG["priceRoutes"]  # region -> {topics, targets}
PRODUCT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
DECIMAL = re.compile(r"^(0|[1-9]\d{0,14})(\.\d{1,4})?$")
PRICE_TYPE = "com.fedgate.pim.price.updated"
ACCESS_TYPES = {"jwt", "at+jwt"}
KEYS = {k["kid"]: jwt.PyJWK(k) for k in CONFIG["jwks"]["keys"]}


class Money(BaseModel, extra=Extra.forbid):
    currency: str
    amount: Optional[str] = None
    minor: Optional[int] = None

    @root_validator(skip_on_failure=True)
    def one_of(cls, v):  # noqa: N805
        currency = v["currency"]
        if not re.fullmatch(r"[A-Z]{3}", currency) or currency not in DIGITS:
            raise ValueError(f'"{currency}" is not an ISO 4217 currency')
        amount, minor = v.get("amount"), v.get("minor")
        if (amount is None) == (minor is None):
            raise ValueError('give exactly one of "amount" (decimal string) or "minor" (integer minor units)')
        digits = DIGITS[currency]
        if amount is not None:
            if not DECIMAL.fullmatch(amount):
                raise ValueError('use a decimal string such as "19.99"')
            whole, _, fraction = amount.partition(".")
            if len(fraction) > digits:
                raise ValueError(f'{currency} has {digits} minor digits; "{amount}" has {len(fraction)}')
            minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
        elif minor < 0 or minor > 2**53 - 1:
            raise ValueError("minor units out of range")
        return {"currency": currency, "amount": None, "minor": minor}


class PriceData(BaseModel, extra=Extra.forbid):
    productId: str
    region: str
    price: Money

    @validator("productId")
    def product(cls, v):  # noqa: N805
        if not PRODUCT_ID.fullmatch(v):
            raise ValueError('use 1-64 letters, digits, ".", "_", ":" or "-"')
        return v

    @validator("region")
    def region_known(cls, v):  # noqa: N805
        if v not in ROUTES:
            raise ValueError(f'no site serves region "{v}"')
        return v


class PriceEvent(BaseModel, extra=Extra.forbid):
    type: str
    data: PriceData

    @validator("type")
    def price_only(cls, v):  # noqa: N805
        if v != PRICE_TYPE:
            raise ValueError("this peer publishes price events only")
        return v


producer = Producer(
    {
        "bootstrap.servers": CONFIG["bootstrap"],
        "security.protocol": "SSL",
        "ssl.ca.location": CONFIG["ca"],
        "ssl.certificate.location": CONFIG["cert"],
        "ssl.key.location": CONFIG["key"],
        "ssl.endpoint.identification.algorithm": "none",
        "acks": "all",
        "linger.ms": 1,
        "socket.nagle.disable": True,
        "client.id": f"{SITE}.bench-peer",
    }
)
app = FastAPI()
verified: Dict[str, dict] = {}


def problem(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"type": f"https://fedgate.dev/problems/{code}", "title": code, "status": status, "detail": detail}, status, media_type="application/problem+json")


def verify(header: Optional[str]) -> dict:
    if not header or not header.startswith("Bearer "):
        raise PermissionError("missing-token")
    token = header[7:]
    claims = verified.get(token)
    if claims is not None and claims["exp"] > time.time():
        return claims
    head = jwt.get_unverified_header(token)
    if str(head.get("typ", "")).lower().removeprefix("application/") not in ACCESS_TYPES:
        raise PermissionError("invalid-token")
    key = KEYS.get(head.get("kid"))
    if key is None:
        raise PermissionError("invalid-token")
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=CONFIG["audience"],
        issuer=CONFIG["issuer"],
        options={"require": ["exp", "iss", "aud"]},
    )
    verified[token] = claims
    if len(verified) > 10_000:
        verified.pop(next(iter(verified)))
    return claims


def traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def records_of(event: PriceEvent, now_ms: int) -> List[tuple]:
    """(topic, key, value, headers) per record, as gateway/distributor.ts writes them."""
    data = {"productId": event.data.productId, "region": event.data.region, "price": {"currency": event.data.price.currency, "minor": event.data.price.minor}}
    route = ROUTES[event.data.region]
    event_id = str(uuid.uuid4())
    if MODE == "native":
        value = json.dumps({"id": event_id, "type": event.type, "data": data}, separators=(",", ":")).encode()
        return [(route["topics"][0], data["productId"].encode(), value, None)], event_id, route
    when = datetime.fromtimestamp(now_ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    trace = traceparent()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", when.encode()),
        ("ce_subject", data["productId"].encode()),
        ("ce_traceparent", trace.encode()),
        ("ce_publishedat", str(now_ms).encode()),
        ("content-type", b"application/json"),
    ]
    value = json.dumps(data, separators=(",", ":")).encode()
    out = [(topic, data["productId"].encode(), value, headers) for topic in route["topics"]]
    base = {"eventId": event_id, "site": SITE, "consumer": "", "productId": data["productId"], "eventType": event.type, "sourceSite": SITE}
    monitoring = [
        {**base, "stage": "published", "at": now_ms, "latencyMs": 0, "detail": {"traceparent": trace}},
        {**base, "stage": "routed", "at": now_ms, "latencyMs": 0, "detail": {"targets": route["targets"], "topics": route["topics"]}},
    ]
    out.append((CONFIG["monitoringTopic"], event_id.encode(), json.dumps(monitoring, separators=(",", ":")).encode(), None))
    window = {"id": event_id, "type": event.type, "routedTo": route["targets"], "writtenAt": SITE}
    out.append((CONFIG["windowTopic"], f"event:{event_id}".encode(), json.dumps(window, separators=(",", ":")).encode(), None))
    return out, event_id, route


async def produce_all(records: List[tuple]) -> None:
    loop = asyncio.get_running_loop()
    pending = [loop.create_future() for _ in records]

    def done(future):
        def callback(err, _msg):
            loop.call_soon_threadsafe(future.set_exception if err else future.set_result, Exception(str(err)) if err else None)

        return callback

    for (topic, key, value, headers), future in zip(records, pending):
        producer.produce(topic, value=value, key=key, headers=headers, on_delivery=done(future))
    producer.poll(0)
    await asyncio.gather(*pending)


def poll_forever() -> None:
    while True:
        producer.poll(0.1)


@app.post("/v1/events")
async def publish(request: Request):
    try:
        claims = verify(request.headers.get("authorization"))
    except PermissionError as err:
        return problem(401, str(err), "a valid ES256 bearer token of this federation is required")
    except jwt.PyJWTError as err:
        return problem(401, "invalid-token", str(err))
    if "publish:price" not in str(claims.get("scope", "")).split(" "):
        return problem(403, "insufficient-scope", "the token lacks publish:price")
    try:
        body = json.loads(await request.body())
    except ValueError as err:
        return problem(400, "invalid-json", str(err))
    items = body if isinstance(body, list) else [body]
    if not 1 <= len(items) <= 500:
        return problem(422, "invalid-event", "send 1-500 events")
    try:
        events = [PriceEvent.parse_obj(x) for x in items]
    except ValidationError as err:
        return problem(422, "invalid-event", str(err.errors()[0]))
    now_ms = int(time.time() * 1000)
    records: List[tuple] = []
    accepted = []
    for event in events:
        out, event_id, route = records_of(event, now_ms)
        records.extend(out)
        accepted.append({"id": event_id, "type": event.type, "routedTo": route["targets"], "writtenAt": SITE})
    try:
        await produce_all(records)
    except Exception as err:  # noqa: BLE001
        return problem(503, "kafka-unavailable", str(err))
    return JSONResponse({"events": accepted}, 202)


@app.get("/healthz")
async def healthz():
    return {"ok": True}


if __name__ == "__main__":
    import threading

    threading.Thread(target=poll_forever, daemon=True).start()
    uvicorn.run(app, host=CONFIG["host"], port=CONFIG["port"], workers=1, loop="uvloop", http="httptools", log_level="warning", access_log=False)
