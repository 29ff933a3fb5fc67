-- What a model call produced besides tokens, and how long it took (issue 4: the router records
-- usage for every call).
ALTER TABLE usage_records ADD COLUMN images INTEGER NOT NULL DEFAULT 0 CHECK (images >= 0);
ALTER TABLE usage_records ADD COLUMN video_seconds INTEGER NOT NULL DEFAULT 0 CHECK (video_seconds >= 0);
ALTER TABLE usage_records ADD COLUMN latency_ms INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0);
