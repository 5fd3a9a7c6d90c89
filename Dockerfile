# Smartcard Route, the production image. One image serves every role of docker-compose.yml: the
# one-off migrate, the web server (gunicorn, the default command), the Celery worker and beat.
#
# Build: docker build -t smartcard-route .

# The NHS.UK frontend, installed from package-lock.json, and its CSS compiled from its Sass with our
# settings (scss/) by `npm run build:css`, as `make setup` does. The dev packages (sass, and axe-core
# for the tests) stay in this stage: only nhsuk-frontend and the compiled CSS go into the image.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scss ./scss
RUN npm run --silent build:css \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    VAR_DIR=/app/var
WORKDIR /app

# The pinned production dependencies (no test or lint tools), in a virtual environment like `make run`'s .venv.
COPY requirements.lock ./
RUN python -m venv /app/.venv \
 && pip install --no-cache-dir --disable-pip-version-check -r requirements.lock

COPY --from=assets /app/node_modules ./node_modules
COPY . .
COPY --from=assets /app/static/build ./static/build

# Static files under content-hashed names, served by WhiteNoise. The key only lets settings load
# here: the running containers get the real SECRET_KEY from their environment.
RUN SECRET_KEY=collectstatic-only-not-a-real-key python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin smartcard \
 && mkdir -p /app/var \
 && chown -R smartcard /app/var
USER smartcard

EXPOSE 8000
CMD ["gunicorn", "smartcard_route.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
