"""The HTTP API (FastAPI): `python -m api` or `uvicorn --factory api.main:create_app`."""
