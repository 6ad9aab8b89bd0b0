import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate` writes the SQL migrations that every site applies at start.
export default defineConfig({
  dialect: 'postgresql',
  schema: './instances/db/schema.ts',
  out: './instances/db/migrations',
});
