# Defaults for the local stack. Every value can be overridden from the environment.
# Sourced by deploy/local/stack.sh, .ci/run and deploy/local/demo.sh.
export PEMS_SYNC_CACHE="${PEMS_SYNC_CACHE:-$HOME/.cache/pems-sync}"   # jars and archives (outside the repo)
export PEMS_SYNC_STATE="${PEMS_SYNC_STATE:-/tmp/pems-sync}"           # data, pid files and logs/ (postgres must traverse it)

export KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"          # also pinned in deploy/local/maven/*/pom.xml
export DEBEZIUM_VERSION="${DEBEZIUM_VERSION:-3.3.1.Final}" # built against Kafka 4.1.0
export APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-6}"
export KAFKA_HEAP="${KAFKA_HEAP:-512m}"
export CONNECT_PORT="${CONNECT_PORT:-8083}"
export CONNECT_HEAP="${CONNECT_HEAP:-512m}"
export REGISTRY_PORT="${REGISTRY_PORT:-8081}"
export REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-9000}"  # Quarkus management interface (health, metrics)
export REGISTRY_HEAP="${REGISTRY_HEAP:-384m}"
export REDIS_PORT="${REDIS_PORT:-6379}"

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-pems_sync}"
export PGDATABASE="${PGDATABASE:-pems_sync}"
# Local-only default; a real deployment sets its own. Never printed by the scripts.
export PGPASSWORD="${PGPASSWORD:-pems_sync_local}"

# The processes' least-privilege role (created by stack.sh, granted by migration 011): connect the
# sink, read side and control API with PEMS_SYNC_APP_DATABASE_URL; migrations use the owner above.
export PEMS_SYNC_APP_ROLE="${PEMS_SYNC_APP_ROLE:-pems_sync_app}"
export PEMS_SYNC_APP_PASSWORD="${PEMS_SYNC_APP_PASSWORD:-pems_sync_app_local}"

export DEBEZIUM_CONNECTOR_NAME="${DEBEZIUM_CONNECTOR_NAME:-pems-sync-pfa-modification}"
export CDC_TOPIC_PREFIX="${CDC_TOPIC_PREFIX:-vanguard}"
# Debezium's latency/load trade-off (connectors/debezium/pfa-modification.json; the same defaults in
# deploy/docker/pfa-modification.compose.json and the Helm chart's debezium.config), chosen by
# `npm run bench` (README, performance): how long the streaming thread sleeps after an empty read
# and how long Connect's poll waits for a batch to fill; the batch and queue sizes, events.
export DEBEZIUM_POLL_INTERVAL_MS="${DEBEZIUM_POLL_INTERVAL_MS:-10}"
export DEBEZIUM_MAX_BATCH_SIZE="${DEBEZIUM_MAX_BATCH_SIZE:-2048}"
export DEBEZIUM_MAX_QUEUE_SIZE="${DEBEZIUM_MAX_QUEUE_SIZE:-8192}"

# Local-only audit chain key (id:base64 of 32 bytes); a real deployment sets its own, outside the database.
export PEMS_SYNC_AUDIT_KEYS="${PEMS_SYNC_AUDIT_KEYS:-local1:cGVtcy1zeW5jLWxvY2FsLWF1ZGl0LWtleS0wMDAwMDE=}"
# Local stack: the control API accepts tokens without a configured issuer/audience (production requires them).
export PEMS_SYNC_ENVIRONMENT="${PEMS_SYNC_ENVIRONMENT:-development}"

# What the TypeScript side reads (connectors, tests).
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
export KAFKA_CONNECT_URL="${KAFKA_CONNECT_URL:-http://127.0.0.1:$CONNECT_PORT}"
export SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export DATABASE_URL="${DATABASE_URL:-postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$PGDATABASE}"

# Monitoring (issue 17): Prometheus and Alertmanager (Debian packages), Mailpit (SMTP + HTTP API,
# built from the Go module proxy into $PEMS_SYNC_CACHE/bin) and the local Slack-compatible receiver.
export MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"
export HELM_VERSION="${HELM_VERSION:-v3.22.0}"
export PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
export ALERTMANAGER_PORT="${ALERTMANAGER_PORT:-9095}"      # not 9093: Kafka's controller
export MAILPIT_SMTP_PORT="${MAILPIT_SMTP_PORT:-1025}"
export MAILPIT_HTTP_PORT="${MAILPIT_HTTP_PORT:-8025}"
export SLACK_RECEIVER_PORT="${SLACK_RECEIVER_PORT:-8027}"
export PROMETHEUS_SCRAPE_INTERVAL="${PROMETHEUS_SCRAPE_INTERVAL:-2s}"  # also the rule evaluation interval
export PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:$PROMETHEUS_PORT}"
export ALERTMANAGER_URL="${ALERTMANAGER_URL:-http://127.0.0.1:$ALERTMANAGER_PORT}"
export MAILPIT_URL="${MAILPIT_URL:-http://127.0.0.1:$MAILPIT_HTTP_PORT}"
export SLACK_RECEIVER_URL="${SLACK_RECEIVER_URL:-http://127.0.0.1:$SLACK_RECEIVER_PORT}"
# Scrape targets: a process started by hand or by a test writes <name>.json (Prometheus file_sd)
# here; rule files added here (*.yml) are loaded next to the production rules after a reload.
export PROMETHEUS_TARGETS_DIR="${PROMETHEUS_TARGETS_DIR:-$PEMS_SYNC_STATE/prometheus/targets}"
export PROMETHEUS_RULES_DIR="${PROMETHEUS_RULES_DIR:-$PEMS_SYNC_STATE/prometheus/rules.d}"
# Ops ports (PEMS_SYNC_HTTP_PORT) Prometheus expects the processes started by hand on
# (npm run sink / control-api / source), as in docker-compose.yml; written to processes.json.
export SINK_OPS_PORT="${SINK_OPS_PORT:-9464}"
export CONTROL_API_OPS_PORT="${CONTROL_API_OPS_PORT:-9465}"
export SOURCE_OPS_PORT="${SOURCE_OPS_PORT:-9466}"
# Where alert runbook links point (Prometheus external label runbook_base; the README's
# "## Alerts and runbooks"). Set it to your repository's README; http(s) only (email HTML refuses other schemes).
export PEMS_SYNC_RUNBOOK_BASE_URL="${PEMS_SYNC_RUNBOOK_BASE_URL:-https://git.example.com/pems-sync/blob/main/README.md}"
export PEMS_SYNC_APP_DATABASE_URL="${PEMS_SYNC_APP_DATABASE_URL:-postgres://$PEMS_SYNC_APP_ROLE:$PEMS_SYNC_APP_PASSWORD@$PGHOST:$PGPORT/$PGDATABASE}"
# The processes (sink, read side, control API: database.url) connect as that role; DATABASE_URL
# (the owner) is for migrations, the demo's and the tests' own set-up.
export PEMS_SYNC_DATABASE_URL="${PEMS_SYNC_DATABASE_URL:-$PEMS_SYNC_APP_DATABASE_URL}"
export PEMS_SYNC_CHROMIUM="${PEMS_SYNC_CHROMIUM:-/usr/bin/chromium}"   # the console browser tests (Debian package chromium)
export PEMS_SYNC_API_PORT="${PEMS_SYNC_API_PORT:-8088}"           # control API and console (npm run demo, npm run control-api)
