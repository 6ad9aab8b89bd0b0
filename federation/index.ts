export * from './flow-lags.ts';
export * from './kafka-endpoints.ts';
export * from './lag.ts';
export * from './mm2-config.ts';
export * from './properties.ts';
export * from './routing.ts';
export * from './topics.ts';
export * from './topology.ts';
