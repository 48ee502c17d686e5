-- Outbox entries that failed for good (the model refuses the appeal's text):
-- set aside with the reason, so they never block the entries behind them or
-- the start of the service. Listed, retried or dropped by an admin.
CREATE TABLE outbox_dead (
    seq BIGINT PRIMARY KEY,
    appeal_id BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    op TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX outbox_dead_tenant ON outbox_dead (tenant_id, seq);
