/**
 * Kafka headers as the sink stores them in jsonb (outbox, dead letters): every value base64, a
 * multi-valued header kept as an array, so binary values and repeated headers survive the round
 * trip (Kafka's Headers.add appends; kafkajs writes an array as repeated headers). Pure.
 */
import type { KafkaHeaders } from './outcomes';

/** Headers as stored in JSON: every value base64, multi-valued kept as arrays. */
export type StoredHeaders = Record<string, string[]>;

export function storeHeaders(h: KafkaHeaders | undefined): StoredHeaders {
  const out: StoredHeaders = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const list = Array.isArray(v) ? v : [v];
    out[k] = list.map((x) => Buffer.from(x).toString('base64'));
  }
  return out;
}

export function loadHeaders(s: StoredHeaders): KafkaHeaders {
  const out: KafkaHeaders = {};
  for (const [k, list] of Object.entries(s)) {
    const bufs = list.map((b) => Buffer.from(b, 'base64'));
    out[k] = bufs.length === 1 ? bufs[0]! : bufs;
  }
  return out;
}
