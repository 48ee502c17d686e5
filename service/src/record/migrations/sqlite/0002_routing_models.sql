-- Fitted routing models (head + calibration) per tenant, versioned: loaded on
-- start so a restart needs no refit; every refit adds a row (and an audit entry).
CREATE TABLE routing_models (
    tenant_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
