-- msrprelay accounting: one row per ended session (times in UTC).
-- Created by `msrprelay db init URL`; generated from engine/accounting.
CREATE TABLE IF NOT EXISTS "msrp_acc" (
    id BIGSERIAL PRIMARY KEY,
    session VARCHAR(16) NOT NULL,
    username VARCHAR(64) NOT NULL,
    domain VARCHAR(128) NOT NULL,
    remote VARCHAR(64) NOT NULL,
    start_time TIMESTAMP(3) WITH TIME ZONE NOT NULL,
    end_time TIMESTAMP(3) WITH TIME ZONE NOT NULL,
    duration_ms BIGINT NOT NULL,
    end_reason VARCHAR(32) NOT NULL,
    bytes_from_client BIGINT NOT NULL,
    bytes_to_client BIGINT NOT NULL,
    messages_from_client BIGINT NOT NULL,
    messages_to_client BIGINT NOT NULL,
    relay VARCHAR(255) NOT NULL
);
CREATE INDEX IF NOT EXISTS msrp_acc_start_idx ON "msrp_acc" (start_time);
CREATE INDEX IF NOT EXISTS msrp_acc_user_idx ON "msrp_acc" (username, domain);
