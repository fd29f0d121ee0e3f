export * from './raw';
export * from './early-warning';
export * from './metrics';
export * from './poller';
export * from './mirror-stream';
