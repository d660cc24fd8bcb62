-- One row per fired schedule slot. Every scheduler process computes the same
-- slots; the primary key lets exactly one of them claim each slot, and the
-- claim and the enqueue commit together.
CREATE TABLE schedule_ticks (
    schedule_name VARCHAR(100) NOT NULL,
    tick_at       TIMESTAMPTZ NOT NULL,
    job_id        TEXT,
    claimed_by    VARCHAR(200) NOT NULL,
    claimed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_name, tick_at)
);

CREATE INDEX idx_schedule_ticks_claimed_at ON schedule_ticks (claimed_at);
