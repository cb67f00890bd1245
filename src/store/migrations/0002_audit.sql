-- The audit trail: who changed what in Make through this server, with what outcome.
-- Portable like 0001 (TEXT and BIGINT only, times as unix seconds). Rows hold ids only:
-- never a data value or a secret. The server only appends; retention deletes old rows.
CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    person TEXT NOT NULL,
    client_id TEXT,
    tool TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    outcome TEXT NOT NULL,
    make_code TEXT,
    detail TEXT
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_person_at ON audit (person, at);
