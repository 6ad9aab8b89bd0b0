export * from './env.ts';
export * from './event-model.ts';
export * from './monitoring-event.ts';
export * from './problem.ts';
export * from './public-api.ts';
export * from './read-api.ts';
export * from './seed-shape.ts';
export * from './selection.ts';
