CREATE TABLE "availability" (
	"product_id" text NOT NULL,
	"country" text NOT NULL,
	"available" boolean NOT NULL,
	"reason" text,
	"event_id" text NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"source_site" text NOT NULL,
	CONSTRAINT "availability_product_id_country_pk" PRIMARY KEY("product_id","country")
);
--> statement-breakpoint
CREATE TABLE "discounts" (
	"product_id" text NOT NULL,
	"region" text NOT NULL,
	"discount_id" text NOT NULL,
	"percent" text,
	"amount_off_minor" bigint,
	"currency" text,
	"valid_from" timestamp with time zone,
	"valid_to" timestamp with time zone,
	"active" boolean NOT NULL,
	"event_id" text NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"source_site" text NOT NULL,
	CONSTRAINT "discounts_product_id_region_discount_id_pk" PRIMARY KEY("product_id","region","discount_id")
);
--> statement-breakpoint
CREATE TABLE "monitoring_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "monitoring_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"event_id" text NOT NULL,
	"stage" text NOT NULL,
	"site" text NOT NULL,
	"consumer" text DEFAULT '' NOT NULL,
	"product_id" text,
	"event_type" text,
	"source_site" text,
	"topic" text,
	"partition" integer,
	"offset" bigint,
	"at" timestamp (3) with time zone NOT NULL,
	"latency_ms" integer,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "price_book" (
	"product_id" text NOT NULL,
	"region" text NOT NULL,
	"currency" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"event_id" text NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"source_site" text NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "price_book_product_id_region_pk" PRIMARY KEY("product_id","region")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "monitoring_events_once" ON "monitoring_events" USING btree ("event_id","stage","site","consumer");--> statement-breakpoint
CREATE INDEX "monitoring_events_product" ON "monitoring_events" USING btree ("product_id","at");--> statement-breakpoint
CREATE INDEX "monitoring_events_stage_at" ON "monitoring_events" USING btree ("stage","at");