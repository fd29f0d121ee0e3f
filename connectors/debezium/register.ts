/**
 * Registers (or updates) the Debezium Postgres connector that captures pfa_modification.
 * PUT /connectors/{name}/config is idempotent: the same config twice is a no-op for Connect.
 *
 * The config lives beside this file; `${NAME}` placeholders come from the environment
 * (deploy/local/env.sh). `${env:NAME}` references are left for Kafka Connect's
 * EnvVarConfigProvider, so the database password never appears in the connector config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ConnectorDefinition {
  name: string;
  config: Record<string, string>;
}

export function renderConnector(env: NodeJS.ProcessEnv = process.env): ConnectorDefinition {
  const raw = readFileSync(join(__dirname, 'pfa-modification.json'), 'utf8');
  const rendered = raw.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new Error(`connector config needs the environment variable ${name}`);
    return value;
  });
  return JSON.parse(rendered) as ConnectorDefinition;
}

export async function registerConnector(connectUrl: string, def: ConnectorDefinition): Promise<void> {
  const res = await fetch(`${connectUrl}/connectors/${encodeURIComponent(def.name)}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(def.config),
  });
  if (!res.ok) throw new Error(`Kafka Connect refused the connector (${res.status}): ${await res.text()}`);
}

export async function connectorStatus(connectUrl: string, name: string): Promise<unknown> {
  const res = await fetch(`${connectUrl}/connectors/${encodeURIComponent(name)}/status`);
  if (!res.ok) throw new Error(`connector status ${res.status}`);
  return res.json();
}

if (require.main === module) {
  const url = process.env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083';
  const def = renderConnector();
  registerConnector(url, def)
    .then(() => console.log(`registered ${def.name} at ${url}`))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
