# The Tenantflow application image: one image, three commands (see temporal-dev.yml):
#   python -m core.setup         migrations + root user (one-shot; `make migrate`)
#   python -m workflows.worker   a worker (scale out: more of them, same task queue)
#   python -m api                an API process (scale out: more of them behind one address)
# Configuration comes only from the environment (README "Configuration"); nothing secret is
# baked in.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY api ./api
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY devstack ./devstack
COPY migrations ./migrations
# Editable, as `make install` does: core/migrate.py finds migrations/ beside the packages.
RUN pip install -c constraints.txt -e .

RUN useradd --create-home --uid 10001 tenantflow
USER tenantflow
# The API's port (API_PORT); workers listen on nothing unless WORKER_METRICS_PORT is set.
EXPOSE 8000
CMD ["python", "-m", "api"]
