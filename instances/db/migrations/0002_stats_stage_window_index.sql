DROP INDEX "monitoring_events_stage_at";--> statement-breakpoint
DROP INDEX "monitoring_events_at";--> statement-breakpoint
CREATE INDEX "monitoring_events_stage_window" ON "monitoring_events" USING btree ("stage","at","latency_ms");