"""Keep access tokens out of the access log, however the app is served.

EventSource cannot send headers, so the SSE routes take the token as `?access_token=`; uvicorn
would write it into every access-log line. `python -m api` formats every line through
core/logs.py, which redacts it; this filter does the same where someone else configured logging
(`uvicorn api.main:create_app --factory`, an app served in tests). `lastEventId` stays.
"""

import logging

from core.logs import redact


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Idempotent: one filter on uvicorn's access logger, however many apps are created."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
