"""The auth family: how a platform handles logins, judged from outside with pure functions.

``_collect_anonymous``, ``_collect_login`` and ``_collect_active`` gather the facts in worker processes
through the http family's scoped client (and reuse the http family's collection of each registered URL
through ``checks.http.api``, so the main page is not requested twice); ``forms`` finds login forms and reads
answers; ``consoles`` recognises admin consoles; the checks in ``login`` (credentials in transit),
``access`` (protected paths, admin consoles), ``session`` (the session cookie after a real login) and
``active`` (lockout and user enumeration, opt-in) judge them through ``base.AuthCheck``, which owns the
policy and redacts credentials. What they say are messages (``translations/vi.toml`` ``[messages]``);
``wording`` holds the sentences several modules share (lists, why a request got no answer).
Settings, what each check sends, and the authorisation the active checks need: docs/auth.md.
"""

from checks.auth.settings import configure
from scanner.family import Family

FAMILY = Family(
    name="auth",
    version="1",
    package=__name__,
    endpoint_kinds=("url",),
    title="Authentication",
    configure=configure,
    typical_seconds=2.0,  # a few page loads
    description="Login pages, forms, sessions and admin consoles, over the http family's facts (active checks opt-in)",
)
