-- Sessions of the account page (/account): a person signed in with Make in a browser.
-- Portable like 0001 (TEXT and BIGINT only, times as unix seconds). Only the SHA-256 of a
-- session's id is stored, so the database alone opens no session. Expired rows are pruned.
CREATE TABLE account_sessions (
    id_hash TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_expires_at ON account_sessions (expires_at);
