"""The login page: a plain HTML form served by Flask, not a Dash page, so that it needs nothing behind the login
(no Dash scripts, no assets, no script at all). Everything put into it is escaped; its stylesheet is inline and
pinned by hash in the Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib

from markupsafe import escape

STYLE = """
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #0d1117; color: #e6edf3;
  font-family: system-ui, sans-serif; }
main { width: min(22rem, 90vw); background: #161b22; border: 1px solid #30363d; border-radius: 10px; padding: 2rem; }
h1 { margin: 0 0 1.5rem; letter-spacing: 0.05em; }
label { display: block; margin-bottom: 1rem; color: #8b949e; }
input { display: block; box-sizing: border-box; width: 100%; margin-top: 0.3rem; padding: 0.55rem; font-size: 1rem;
  background: #0d1117; color: #e6edf3; border: 1px solid #30363d; border-radius: 6px; }
input:focus { outline: 2px solid #388bfd; border-color: #388bfd; }
button { width: 100%; padding: 0.6rem; font-size: 1rem; background: #238636; color: #fff; border: 0; border-radius: 6px;
  cursor: pointer; }
a { color: #58a6ff; }
.message { min-height: 1.4em; margin: 0 0 1rem; color: #ff7b72; }
"""

CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lytte — {title}</title>
<link rel="icon" href="data:,">
<style>{style}</style>
</head>
<body>
<main>
<h1>lytte</h1>
{body}
</main>
</body>
</html>
"""

_FORM = """<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<label>User name <input name="username" autocomplete="username" required autofocus maxlength="64"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<p class="message" role="alert">{message}</p>
<button type="submit">Log in</button>
</form>"""


def login_form(action: str, next_url: str, message: str = "") -> str:
    """The password form. Scenario: login_form("/login", '/"><b>x', "wrong user name or password") has the next
    value as `/&#34;&gt;&lt;b&gt;x` and the message as text; no tag comes from the arguments."""
    body = _FORM.format(action=escape(action), next=escape(next_url), message=escape(message))
    return _PAGE.format(title="log in", style=STYLE, body=body)


def notice(title: str, message: str, link: str | None = None, link_text: str = "") -> str:
    """A page with one message (a refusal, "logged out"), and optionally one link. Scenario:
    notice("refused", "<i>x</i>") shows the text `<i>x</i>`, escaped."""
    body = f'<p class="message">{escape(message)}</p>'
    if link is not None:
        body += f'<p><a href="{escape(link)}">{escape(link_text)}</a></p>'
    return _PAGE.format(title=escape(title), style=STYLE, body=body)
