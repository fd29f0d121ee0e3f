import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { testEnv, uniqueId } from '../../support/env';

/** @kafkajs/confluent-schema-registry against Apicurio's Confluent-compatible API (/apis/ccompat/v7). */
describe('schema registry (Apicurio, Confluent API)', () => {
  const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });
  const subject = `${uniqueId('test').toLowerCase()}-value`;
  const schema = {
    type: 'record',
    name: 'RoundTrip',
    namespace: 'com.pfavanguard.pemssync.test',
    fields: [
      { name: 'pfaId', type: 'string' },
      { name: 'version', type: 'int' },
      { name: 'note', type: ['null', 'string'], default: null },
    ],
  };

  it('when a schema is registered and a record encoded, then the bytes decode back to the same record', async () => {
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    expect(id).toBeGreaterThan(0);
    const record = { pfaId: 'PFA-000123', version: 8, note: 'ok' };
    const bytes = await registry.encode(id, record);
    expect(bytes[0]).toBe(0); // Confluent wire format: magic byte, then the 4-byte schema id
    expect(bytes.readInt32BE(1)).toBe(id);
    expect(await registry.decode(bytes)).toEqual(record);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
  });

  it('when the same schema is registered again, then the registry returns the same id', async () => {
    const a = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    const b = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    expect(b.id).toBe(a.id);
  });

  it('when a record does not match the schema, then encoding fails instead of writing bad bytes', async () => {
    const id = await registry.getLatestSchemaId(subject);
    await expect(registry.encode(id, { pfaId: 42 })).rejects.toThrow();
  });
});
