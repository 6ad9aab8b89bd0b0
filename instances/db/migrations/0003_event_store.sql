CREATE TABLE "stored_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"product_id" text NOT NULL,
	"event_type" text NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"source_site" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"published_at" timestamp (3) with time zone NOT NULL,
	"stored_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"event" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "stored_events_product_time" ON "stored_events" USING btree ("product_id","event_time","event_id");--> statement-breakpoint
CREATE INDEX "stored_events_time" ON "stored_events" USING btree ("event_time","event_id");