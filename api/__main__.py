"""`python -m api`: serve the API with uvicorn on API_HOST:API_PORT."""

import uvicorn

from core import logs
from core.settings import get_settings


def main() -> None:
    logs.configure()
    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        # X-Forwarded-For is the app's business (TRUSTED_PROXIES, default none): uvicorn's own
        # handling would believe it from 127.0.0.1, i.e. from anyone on this host.
        proxy_headers=False,
        # uvicorn's loggers go through core/logs.py's handler (JSON or text, redacted).
        log_config=None,
        log_level=logs.uvicorn_level(),
    )


if __name__ == "__main__":
    main()
