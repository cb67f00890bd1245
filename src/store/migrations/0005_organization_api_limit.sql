-- The requests a minute the person's Make organization's plan allows (Make's
-- organization.license.apiLimit), learned at sign-in beside organization_id; NULL when Make
-- did not say. Portable like 0001.
ALTER TABLE people ADD COLUMN organization_api_limit BIGINT;
