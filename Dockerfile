# authserver container image. Docker cannot run on the development machines of this project, so
# this file is reviewed, not built, in CI; keep it simple.
#
# Runtime contract: configuration comes only from the environment (AUTHSERVER_*, or *_FILE for
# mounted secrets); the root filesystem may be read-only, only /tmp is written; no secrets are in
# the image. Run `authserver init` once per release (a job or an init container) before serving.

FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements/ requirements/
RUN /opt/venv/bin/pip install --require-hashes -r requirements/build.txt \
 && /opt/venv/bin/pip install --require-hashes -r requirements/main.txt
COPY setup.cfg pyproject.toml README.md wsgi.py ./
COPY authserver/ authserver/
COPY migrations/ migrations/
COPY templates/ templates/
# Editable, so the package finds migrations/ and templates/ beside it in /app.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation -e . \
 && for catalog in authserver/translations/*/LC_MESSAGES/messages.po; do \
        [ -e "$catalog" ] || continue; \
        /opt/venv/bin/pybabel compile -i "$catalog" -o "${catalog%.po}.mo" || exit 1; \
    done

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin authserver
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AUTHSERVER_ENV=production \
    AUTHSERVER_INSTANCE_PATH=/tmp/authserver
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# `serve` validates the configuration (one clear line per problem), then becomes gunicorn on
# wsgi:app with AUTHSERVER_WORKERS gevent workers (slow clients hold a socket, not a worker, so
# no reverse proxy is needed for them; docs/deploy.md); gunicorn's heartbeat files go to /tmp.
CMD ["authserver", "serve", "--host", "0.0.0.0", "--port", "8000"]
