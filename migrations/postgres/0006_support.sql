-- Province digital-transformation support (issue 6): the enterprise register, the shops linked
-- to each enterprise, programmes, support records with their audit log, onboarding invites,
-- readiness assessments, and the daily per-enterprise order aggregates the dashboard reads.
-- Province-side tables are keyed by province_code; none holds customer data.
CREATE TABLE enterprises (
    id TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces (code),
    name TEXT NOT NULL,
    search_key TEXT NOT NULL,
    tax_code TEXT,
    legal_form TEXT CHECK (legal_form IN ('COMPANY', 'COOPERATIVE', 'HOUSEHOLD_BUSINESS')),
    sector TEXT,
    size_class TEXT CHECK (size_class IN ('MICRO', 'SMALL', 'MEDIUM')),
    ward TEXT,
    phone TEXT,
    email TEXT,
    consent_share_sales BOOLEAN NOT NULL DEFAULT FALSE,
    consent_recorded_by TEXT,
    consent_recorded_at BIGINT,
    consent_withdrawn_by TEXT,
    consent_withdrawn_at BIGINT,
    first_support_day BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT enterprises_tax_code_key UNIQUE (tax_code)
);
CREATE INDEX enterprises_province_idx ON enterprises (province_code, id);
CREATE INDEX enterprises_support_idx ON enterprises (province_code, first_support_day);

CREATE TABLE enterprise_shops (
    shop_id TEXT PRIMARY KEY REFERENCES shops (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    province_code TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX enterprise_shops_enterprise_idx ON enterprise_shops (province_code, enterprise_id);

CREATE TABLE programmes (
    id TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces (code),
    name TEXT NOT NULL,
    funding_source TEXT,
    decision_number TEXT,
    decision_date TEXT,
    start_date TEXT,
    end_date TEXT,
    budget BIGINT NOT NULL CHECK (budget >= 0),
    spent BIGINT NOT NULL DEFAULT 0,
    max_share_percent BIGINT,
    cap_micro BIGINT,
    cap_small BIGINT,
    cap_medium BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    CHECK (spent <= budget)
);
CREATE INDEX programmes_province_idx ON programmes (province_code, id);

CREATE TABLE support_records (
    id TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces (code),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    programme_id TEXT REFERENCES programmes (id),
    programme_name TEXT,
    kind TEXT NOT NULL,
    provider TEXT,
    contract_value BIGINT,
    subsidy BIGINT,
    date TEXT NOT NULL,
    day BIGINT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    voided BOOLEAN NOT NULL DEFAULT FALSE,
    void_reason TEXT,
    auto_key TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT support_records_auto_key UNIQUE (auto_key)
);
CREATE INDEX support_records_enterprise_idx ON support_records (province_code, enterprise_id);
CREATE INDEX support_records_programme_idx ON support_records (programme_id);

CREATE TABLE support_audit (
    id TEXT PRIMARY KEY,
    province_code TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES support_records (id),
    actor_id TEXT,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX support_audit_record_idx ON support_audit (record_id, at);

CREATE TABLE enterprise_invites (
    code TEXT PRIMARY KEY,
    province_code TEXT NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE invite_redemptions (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    code TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE readiness_assessments (
    id TEXT PRIMARY KEY,
    province_code TEXT NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    framework TEXT NOT NULL,
    assessed_on TEXT NOT NULL,
    level BIGINT,
    score BIGINT,
    pillars_json TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX readiness_enterprise_idx ON readiness_assessments (province_code, enterprise_id);

CREATE TABLE enterprise_daily (
    province_code TEXT NOT NULL,
    enterprise_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    orders BIGINT NOT NULL DEFAULT 0,
    revenue BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (province_code, enterprise_id, day)
);
