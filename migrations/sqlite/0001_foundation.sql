-- Foundation: reference provinces, user accounts, sessions, login throttling.
CREATE TABLE provinces (
    code TEXT PRIMARY KEY,             -- 2025 scheme code, e.g. '46' (Huế)
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    slug TEXT NOT NULL,
    phone_area_code TEXT NOT NULL,
    commune_units BIGINT NOT NULL
);

-- Pre-2025 provincial units and the current unit each became part of.
CREATE TABLE province_former_units (
    old_code TEXT PRIMARY KEY,
    old_name TEXT NOT NULL,
    code TEXT NOT NULL REFERENCES provinces (code)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('merchant', 'admin', 'province_staff')),
    province_code TEXT REFERENCES provinces (code),
    created_at BIGINT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE auth_failures (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,                  -- 'acct:<email>' or 'addr:<ip>'
    at BIGINT NOT NULL
);
CREATE INDEX auth_failures_key_idx ON auth_failures (key, at);
