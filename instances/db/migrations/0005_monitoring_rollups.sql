CREATE TABLE "monitoring_rollups" (
	"stage" text NOT NULL,
	"second" timestamp (0) with time zone NOT NULL,
	"no_latency" bigint NOT NULL,
	"buckets" integer[] NOT NULL,
	"counts" bigint[] NOT NULL,
	CONSTRAINT "monitoring_rollups_stage_second_pk" PRIMARY KEY("stage","second")
);
--> statement-breakpoint
-- A latency's histogram bucket: exact milliseconds to 63, then 3 % wide; -1 for none (instances/queries.ts: latencyBucket).
CREATE FUNCTION "monitoring_latency_bucket"(latency_ms integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN latency_ms IS NULL THEN -1
              WHEN latency_ms <= 63 THEN greatest(latency_ms, 0)
              ELSE 64 + floor(ln(latency_ms / 64.0) / ln(1.03))::integer END
$$;
--> statement-breakpoint
-- The rollups follow monitoring_events through statement triggers: the
-- transition tables hold exactly the rows a statement inserted (a row that
-- ON CONFLICT DO NOTHING skipped is not in them) or deleted. Names are
-- qualified with the table's own schema, so a connection whose search_path
-- is another schema (a bulk load, psql) updates the right rollups. Rows are
-- upserted in key order, so two writers lock them in the same order.
CREATE FUNCTION "monitoring_rollups_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    INSERT INTO %1$I.monitoring_rollups AS r (stage, second, no_latency, buckets, counts)
    SELECT stage, second,
           coalesce(sum(n) FILTER (WHERE bucket < 0), 0),
           coalesce(array_agg(bucket ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}'),
           coalesce(array_agg(n ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}')
    FROM (SELECT stage, date_trunc('second', at) AS second, %1$I.monitoring_latency_bucket(latency_ms) AS bucket, count(*) AS n
          FROM monitoring_new_rows GROUP BY 1, 2, 3) AS b
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (stage, second) DO UPDATE SET
      no_latency = r.no_latency + excluded.no_latency,
      (buckets, counts) = (
        SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(v ORDER BY k), '{}')
        FROM (SELECT k, sum(v)::bigint AS v
              FROM (SELECT * FROM unnest(r.buckets, r.counts) UNION ALL SELECT * FROM unnest(excluded.buckets, excluded.counts)) AS u(k, v)
              GROUP BY k) AS m)$q$, TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "monitoring_rollups_remove"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    UPDATE %1$I.monitoring_rollups AS r SET
      no_latency = r.no_latency - g.no_latency,
      (buckets, counts) = (
        SELECT coalesce(array_agg(k ORDER BY k), '{}'), coalesce(array_agg(v ORDER BY k), '{}')
        FROM (SELECT k, sum(v)::bigint AS v
              FROM (SELECT * FROM unnest(r.buckets, r.counts) UNION ALL SELECT o.k, -o.v FROM unnest(g.buckets, g.counts) AS o(k, v)) AS u(k, v)
              GROUP BY k HAVING sum(v) > 0) AS m)
    FROM (SELECT stage, second,
                 coalesce(sum(n) FILTER (WHERE bucket < 0), 0) AS no_latency,
                 coalesce(array_agg(bucket ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}') AS buckets,
                 coalesce(array_agg(n ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}') AS counts
          FROM (SELECT stage, date_trunc('second', at) AS second, %1$I.monitoring_latency_bucket(latency_ms) AS bucket, count(*) AS n
                FROM monitoring_old_rows GROUP BY 1, 2, 3) AS b
          GROUP BY 1, 2) AS g
    WHERE r.stage = g.stage AND r.second = g.second$q$, TG_TABLE_SCHEMA);
  EXECUTE format($q$
    DELETE FROM %1$I.monitoring_rollups AS r
    USING (SELECT DISTINCT stage, date_trunc('second', at) AS second FROM monitoring_old_rows) AS g
    WHERE r.stage = g.stage AND r.second = g.second AND r.no_latency <= 0 AND cardinality(r.buckets) = 0$q$, TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "monitoring_rollups_on_insert" AFTER INSERT ON "monitoring_events"
  REFERENCING NEW TABLE AS monitoring_new_rows FOR EACH STATEMENT EXECUTE FUNCTION "monitoring_rollups_add"();
--> statement-breakpoint
CREATE TRIGGER "monitoring_rollups_on_delete" AFTER DELETE ON "monitoring_events"
  REFERENCING OLD TABLE AS monitoring_old_rows FOR EACH STATEMENT EXECUTE FUNCTION "monitoring_rollups_remove"();
--> statement-breakpoint
-- Rows written before this migration: rolled up once.
INSERT INTO "monitoring_rollups" (stage, second, no_latency, buckets, counts)
SELECT stage, second,
       coalesce(sum(n) FILTER (WHERE bucket < 0), 0),
       coalesce(array_agg(bucket ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}'),
       coalesce(array_agg(n ORDER BY bucket) FILTER (WHERE bucket >= 0), '{}')
FROM (SELECT stage, date_trunc('second', at) AS second, "monitoring_latency_bucket"(latency_ms) AS bucket, count(*) AS n
      FROM "monitoring_events" GROUP BY 1, 2, 3) AS b
GROUP BY 1, 2;
