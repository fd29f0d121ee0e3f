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

export DEBEZIUM_CONNECTOR_NAME="${DEBEZIUM_CONNECTOR_NAME:-pems-sync-pfa-modification}"
export CDC_TOPIC_PREFIX="${CDC_TOPIC_PREFIX:-vanguard}"

# What the TypeScript side reads (connectors, tests).
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
export KAFKA_CONNECT_URL="${KAFKA_CONNECT_URL:-http://127.0.0.1:$CONNECT_PORT}"
export SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
export DATABASE_URL="${DATABASE_URL:-postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$PGDATABASE}"
export PEMS_SYNC_CHROMIUM="${PEMS_SYNC_CHROMIUM:-/usr/bin/chromium}"   # the console browser tests (Debian package chromium)
export PEMS_SYNC_API_PORT="${PEMS_SYNC_API_PORT:-8088}"           # control API and console (npm run demo, npm run control-api)
