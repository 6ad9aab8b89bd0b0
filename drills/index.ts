export * from './drill.ts';
export * from './drill-report.ts';
export * from './event-generator.ts';
export * from './partition-lab.ts';
