import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
/** Shared with `npm start`: the Kafka jar cache is fetched once for both. */
export const STATE_DIR = join(REPO, '.fedgate');
