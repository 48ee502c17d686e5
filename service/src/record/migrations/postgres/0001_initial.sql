-- System of record, schema 1 (PostgreSQL). Times are unix milliseconds.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    alpha DOUBLE PRECISION NOT NULL,
    auto_threshold DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE departments (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL,
    names TEXT NOT NULL,
    description TEXT NOT NULL,
    areas TEXT NOT NULL,
    auto_threshold DOUBLE PRECISION,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
CREATE TABLE appeals (
    id BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    external_id TEXT,
    text TEXT NOT NULL,
    redacted_text TEXT NOT NULL,
    language TEXT,
    district TEXT,
    municipality TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    address TEXT,
    channel TEXT,
    applicant_category TEXT,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    department TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX appeals_external ON appeals (tenant_id, external_id);
CREATE INDEX appeals_queue ON appeals (tenant_id, status, received_at);
CREATE TABLE suggestions (
    id BIGSERIAL PRIMARY KEY,
    appeal_id BIGINT NOT NULL REFERENCES appeals(id),
    decision TEXT NOT NULL,
    model TEXT NOT NULL,
    index_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE decisions (
    id BIGSERIAL PRIMARY KEY,
    appeal_id BIGINT NOT NULL REFERENCES appeals(id),
    kind TEXT NOT NULL,
    department TEXT,
    actor TEXT NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    appeal_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_by_appeal ON audit_log (appeal_id, seq);
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    appeal_id BIGINT NOT NULL,
    op TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
