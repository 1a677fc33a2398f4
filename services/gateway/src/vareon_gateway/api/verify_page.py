"""The link in the verification mail, ``GET /verify-email?token=...`` at the gateway.

GET only shows a page with a "Confirm" button; the button's POST redeems the token through
identity's ``POST /api/v1/auth/verify-email``. A GET that redeemed the token would let mail
scanners and link previews, which fetch every link, use up the single-use token (or confirm
an address nobody read)."""

from __future__ import annotations

import html
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse
from vareon_chassis.context import request_id_var

router = APIRouter()
MAX_FORM_BYTES = 4096
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title} - Vareon</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, body=body), status_code=status, headers=HEADERS)


@router.get("/verify-email", include_in_schema=False)
async def verify_email_page(token: str = "") -> HTMLResponse:
    if not token:
        return _page("Link incomplete", "<p>This verification link has no token.</p>", 400)
    return _page(
        "Confirm your email address",
        '<form method="post" action="/verify-email">'
        f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
        "<p>Press the button to confirm this address for your Vareon account.</p>"
        "<button type=submit>Confirm my address</button></form>",
    )


@router.post("/verify-email", include_in_schema=False)
async def verify_email_confirm(request: Request) -> HTMLResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _page("Link not valid", "<p>The request is too large.</p>", 413)
    token = (parse_qs(body.decode("latin-1")).get("token") or [""])[0]
    client: httpx.AsyncClient = request.app.state.upstream
    base = request.app.state.settings.upstream_url("identity")
    try:
        response = await client.post(
            f"{base}/api/v1/auth/verify-email",
            json={"token": token},
            headers={
                "x-request-id": request_id_var.get() or "",
                "x-forwarded-for": request.client.host if request.client else "unknown",
            },
        )
    except httpx.HTTPError:
        return _page("Try again shortly", "<p>The service is not reachable just now.</p>", 503)
    if response.status_code == 200:
        return _page("Address confirmed", "<p>Thank you: your email address is confirmed.</p>")
    if response.status_code in (400, 404, 409, 422):
        return _page(
            "Link not valid",
            "<p>This link is unknown, already used or expired. Sign in and ask for a new "
            "verification mail.</p>",
            400,
        )
    return _page("Try again shortly", "<p>The address could not be confirmed now.</p>", 503)
