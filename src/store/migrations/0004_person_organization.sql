-- The Make organization each person's calls count against (Make's per-organization request
-- limit), learned at sign-in; NULL when unknown. Portable like 0001.
ALTER TABLE people ADD COLUMN organization_id BIGINT;
