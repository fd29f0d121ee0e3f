export * from './client';
export * from './errors';
export * from './rate-limiter';
export * from './idempotency';
export * from './credentials';
export * from './organization-check';
export * from './pool';
