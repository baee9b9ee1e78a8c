"""`python -m api`: serve the API with uvicorn on API_HOST:API_PORT."""

import uvicorn

from core.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        log_level="info",
    )


if __name__ == "__main__":
    main()
