"""What every response carries, and where a login may send the browser next.

The headers follow OWASP ASVS level 2 for a server-rendered panel: a
Content-Security-Policy that allows scripts, styles and frames from this site
only (the templates have no inline script or style; the simulator's script is
a static file), no framing at all, no MIME sniffing, no Referer to other
sites, and HSTS only when the service is reached over https.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Flask, Response, request

from config import Settings

# blob: lets the simulator preview the photo being sent; nothing else leaves 'self'.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def install_headers(app: Flask, settings: Settings) -> None:
    """Add the security headers to every response of the app, errors and static files included."""
    behind_https = settings.public_base_url.startswith("https://")

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if behind_https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if response.mimetype == "text/html":
            # Pages name people and cases: no copy in the browser's cache or a shared one.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def on_site(target: str) -> bool:
    """True only for a path on this site, such as /cases/?filter=open; never another host, however spelled.

    Browsers read a backslash as a slash and drop tabs and newlines, so `/\\evil.com`
    and `/\\t/evil.com` would leave the site; so would `//evil.com`, any scheme,
    and the same spelled with percent escapes. Each is checked raw and decoded.
    """
    return bool(target) and all(_plain_path(form) for form in (target, unquote(target)))


def _plain_path(target: str) -> bool:
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
