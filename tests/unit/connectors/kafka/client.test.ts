import { logLevel } from 'kafkajs';
import { kafkaLogLevel } from '../../../../connectors/kafka/client';

describe('Kafka client factory: kafkajs log lines into pino', () => {
  it('when kafkajs reports a condition it retries itself, then it is logged at debug whatever its level', () => {
    expect(kafkaLogLevel(logLevel.ERROR, { message: 'The group is rebalancing, re-joining' })).toBe('debug');
    expect(
      kafkaLogLevel(logLevel.ERROR, {
        message: 'Response InitProducerId',
        error: 'There is already another concurrent operation on the same transaction',
      }),
    ).toBe('debug');
    // A transactional producer's InitProducerId sent before the coordinator moved (the demo printed it as an error).
    expect(
      kafkaLogLevel(logLevel.ERROR, {
        message: 'Response InitProducerId(key: 22, version: 1)',
        error: 'This is not the correct coordinator for this group',
      }),
    ).toBe('debug');
  });

  it('when kafkajs reports anything else, then errors stay errors and warnings warnings', () => {
    expect(kafkaLogLevel(logLevel.ERROR, { message: 'Connection error: ECONNREFUSED' })).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, { message: 'Broker unreachable' })).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, { message: 'Consumer has joined the group' })).toBe('debug');
  });
});
