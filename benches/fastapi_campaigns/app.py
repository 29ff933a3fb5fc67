"""The peer of bench/api.sh: "the seed's own stack" (FastAPI + uvicorn + asyncpg + PyJWT) serving
AAE's campaign list from the same PostgreSQL table. Written for the benchmark only.

    GET /api/v1/campaigns?limit=50&cursor=...   Authorization: Bearer <AAE access token>
    GET /api/v1/health

It answers exactly as AAE does:
- the token is checked as AAE's local authenticator checks it: HS256 only, signed with the 32 bytes
  hex-decoded from `{AAE data dir}/secrets/jwt.key` (path in AAE_JWT_KEY_FILE), `iss` = "aae"
  (AAE_JWT_ISSUER), `aud` = "aae-api", `exp` checked with 5 s of leeway, the claims `sub` (a user
  uuid), `iat`, `jti`, `email` and `role` (`user` or `admin`) present; otherwise 401
  `{"error": {"code": "unauthenticated", "message": ...}}`;
- the list is `{"campaigns": [{campaign_id, campaign_name, status, progress, created_at,
  completed_at, execution_time}], "next_cursor": null | string}`, newest first, `limit` 1 to 100
  (default 50); `progress` is 100.0 for a completed campaign, else the last `percent` of its
  progress log (0.0 when none); timestamps are RFC 3339 UTC as chrono prints them; the cursor is
  AAE's own (URL-safe base64 without padding of `{created_at with microseconds}|{campaign_id}`), so
  a cursor from either server works on both.

Run: DATABASE_URL=postgres://... AAE_JWT_KEY_FILE=.../secrets/jwt.key \
     uvicorn app:app --workers 2 --loop uvloop --http httptools --no-access-log
Env: PG_POOL_SIZE (5 connections per worker process: 10 for 2 workers, AAE's default
     database.max_connections).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

AUDIENCE = "aae-api"
ISSUER = os.environ.get("AAE_JWT_ISSUER", "aae")
LEEWAY_SECONDS = 5
# AAE's claims struct: every field must be there, or the token does not decode.
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "jti", "email", "role"]
VERSION = "bench"


def load_key() -> bytes:
    path = os.environ.get("AAE_JWT_KEY_FILE")
    if not path:
        raise SystemExit("set AAE_JWT_KEY_FILE to AAE's {data_dir}/secrets/jwt.key")
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise SystemExit(f"{path} is not hex: {e}") from e


KEY = load_key()


async def init_connection(conn: asyncpg.Connection) -> None:
    # JSONB columns as Python values (asyncpg hands them over as text otherwise).
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def lifespan(app: FastAPI):
    size = int(os.environ.get("PG_POOL_SIZE", "5"))
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size, init=init_connection
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(title="campaigns (FastAPI peer)", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


# ------------------------------------------------------------------ errors in AAE's shape


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@app.exception_handler(ApiError)
async def api_error(_: Request, e: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
    response = error_response(e.status, e.code, e.message)
    if headers:
        response.headers.update(headers)
    return response


@app.exception_handler(RequestValidationError)
async def invalid_request(_: Request, e: RequestValidationError) -> JSONResponse:
    first = e.errors()[0] if e.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "query")
    return error_response(400, "invalid_input", f"{where}: {first.get('msg', 'invalid request')}")


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message)


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_input", message)


# ------------------------------------------------------------------ authentication


@dataclass(frozen=True, slots=True)
class Caller:
    id: uuid.UUID
    email: str
    role: str
    token_id: str
    expires_at: int


def caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
    """AAE's bearer extractor and `LocalAuth::verify`."""
    if authorization is None:
        raise unauthenticated("sign in and send `Authorization: Bearer <access token>`")
    scheme, space, token = authorization.partition(" ")
    token = token.strip()
    if not space or scheme.lower() != "bearer" or not token:
        raise unauthenticated("the Authorization header must be `Bearer <access token>`")
    try:
        claims = jwt.decode(
            token,
            KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise unauthenticated("the access token has expired; refresh it or sign in again") from None
    except jwt.PyJWTError:
        raise unauthenticated("the access token is not valid; sign in again") from None
    email, role, jti, sub = claims["email"], claims["role"], claims["jti"], claims["sub"]
    if not (isinstance(email, str) and role in ("user", "admin") and isinstance(jti, str) and isinstance(sub, str)):
        raise unauthenticated("the access token is not valid; sign in again")
    try:
        user_id = uuid.UUID(sub)
    except ValueError:
        raise unauthenticated("the access token is not valid; sign in again") from None
    return Caller(id=user_id, email=email, role=role, token_id=jti, expires_at=claims["exp"])


# ------------------------------------------------------------------ campaigns


class CampaignSummary(BaseModel):
    campaign_id: str
    campaign_name: str
    status: str
    progress: float
    created_at: str
    completed_at: str | None
    execution_time: float | None


class CampaignPage(BaseModel):
    campaigns: list[CampaignSummary]
    next_cursor: str | None


def rfc3339(t: datetime | None) -> str | None:
    """As chrono serialises a `DateTime<Utc>`: `Z`, and 0, 3 or 6 fraction digits as needed."""
    if t is None:
        return None
    t = t.astimezone(timezone.utc)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    micros = t.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def encode_cursor(created_at: datetime, campaign_id: str) -> str:
    text = created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "|" + campaign_id
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sep, campaign_id = text.partition("|")
        if not sep:
            raise ValueError("no separator")
        after = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if after.tzinfo is None:
            raise ValueError("no offset")
        return after, campaign_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("malformed cursor; pass a next_cursor from a previous page") from None


def progress(status: str, log: Any) -> float:
    if status == "completed":
        return 100.0
    if isinstance(log, list):
        for entry in reversed(log):
            if isinstance(entry, dict):
                percent = entry.get("percent")
                if isinstance(percent, (int, float)) and not isinstance(percent, bool):
                    return float(percent)
    return 0.0


COLUMNS = "campaign_id, campaign_name, status, created_at, completed_at, execution_time, progress_log"
FIRST_PAGE = (
    f"SELECT {COLUMNS} FROM campaigns WHERE user_id = $1 "
    "ORDER BY created_at DESC, campaign_id DESC LIMIT $2"
)
NEXT_PAGE = (
    f"SELECT {COLUMNS} FROM campaigns WHERE user_id = $1 "
    "AND (created_at < $3 OR (created_at = $3 AND campaign_id < $4)) "
    "ORDER BY created_at DESC, campaign_id DESC LIMIT $2"
)


@app.get("/api/v1/campaigns", response_model=CampaignPage)
async def list_campaigns(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> CampaignPage:
    if limit is None:
        limit = 50
    elif not 1 <= limit <= 100:
        raise invalid(f"limit must be between 1 and 100, not {limit}")
    pool: asyncpg.Pool = request.app.state.pool
    if cursor is None:
        rows = await pool.fetch(FIRST_PAGE, str(who.id), limit + 1)
    else:
        after_time, after_id = decode_cursor(cursor)
        rows = await pool.fetch(NEXT_PAGE, str(who.id), limit + 1, after_time, after_id)
    more = len(rows) > limit
    rows = rows[:limit]
    campaigns = [
        CampaignSummary(
            campaign_id=r["campaign_id"],
            campaign_name=r["campaign_name"],
            status=r["status"],
            progress=progress(r["status"], r["progress_log"]),
            created_at=rfc3339(r["created_at"]),
            completed_at=rfc3339(r["completed_at"]),
            execution_time=r["execution_time"],
        )
        for r in rows
    ]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["campaign_id"]) if more and rows else None
    return CampaignPage(campaigns=campaigns, next_cursor=next_cursor)


# ------------------------------------------------------------------ health


@app.get("/api/v1/health")
async def health(request: Request) -> JSONResponse:
    started = time.perf_counter()
    try:
        await request.app.state.pool.fetchval("SELECT 1")
        healthy, detail = True, "SELECT 1 answers"
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        healthy, detail = False, f"database unreachable: {e}"
    line = {
        "service": "database",
        "healthy": healthy,
        "detail": detail,
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "last_check": datetime.now(timezone.utc).isoformat(),
        "required": True,
    }
    body = {"status": "healthy" if healthy else "unhealthy", "version": VERSION, "services": [line]}
    return JSONResponse(body, status_code=200 if healthy else 503)
