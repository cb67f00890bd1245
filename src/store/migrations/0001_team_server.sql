-- The team server's schema. Portable: it runs unchanged on SQLite and Postgres (TEXT and
-- BIGINT only, times as unix seconds, no identity columns, no engine-specific types).

-- Single-use records (pending upstream authorizations, consent tickets, authorization
-- codes), keyed by kind and the SHA-256 of their key; taken once with DELETE ... RETURNING.
CREATE TABLE once_records (
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key_hash)
);
CREATE INDEX once_records_expires_at ON once_records (expires_at);

-- MCP clients: registered dynamically, by metadata document, or preregistered.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    name TEXT,
    kind TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- People, one per Make user (`sub`).
CREATE TABLE people (
    id TEXT PRIMARY KEY,
    make_user_id TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each person's Make grant, sealed (XChaCha20-Poly1305; `sealed` is base64 of nonce and
-- ciphertext, `key_id` names the keyring's key). `lease_owner`/`lease_until` is the refresh
-- lock: one replica at a time refreshes a grant.
CREATE TABLE make_grants (
    person TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    sealed TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Token families: the tokens issued from one authorization and the refresh tokens rotated
-- from them. Revoking a family revokes all its tokens, present and future.
CREATE TABLE token_families (
    family TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX token_families_person_client ON token_families (person, client_id);

-- The server's own access tokens, by SHA-256 hash only.
CREATE TABLE access_tokens (
    hash TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_family ON access_tokens (family);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The server's own refresh tokens, by SHA-256 hash only; `used_at` is set by rotation.
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Consent a person gave a client, with the scopes it covers.
CREATE TABLE consents (
    person TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (person, client_id)
);

-- Spent confirmation nonces (the ConfirmationLedger), kept until they cannot be replayed.
CREATE TABLE spent_confirmations (
    nonce TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_confirmations_expires_at ON spent_confirmations (expires_at);
