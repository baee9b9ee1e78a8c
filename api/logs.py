"""Keep access tokens out of the access log.

EventSource cannot send headers, so the SSE routes take the token as `?access_token=`; uvicorn
would write it into every access-log line. The filter redacts it (and `lastEventId` stays).
"""

import logging
import re

_TOKEN = re.compile(r"(access_token=)[^&\s]+")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN.sub(r"\1[redacted]", record.msg)
        return True


def install() -> None:
    """Idempotent: one filter on uvicorn's access logger, however many apps are created."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
