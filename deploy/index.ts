export * from './broker-config.ts';
export * from './cert-reload.ts';
export * from './kafka-probe.ts';
export * from './kafka-runtime.ts';
export * from './launcher.ts';
export * from './paths.ts';
export * from './process.ts';
export * from './site-setup.ts';
