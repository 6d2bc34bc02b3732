-- The minimum usable version (MAJOR.MINOR.PATCH): no device may start an
-- older version. NULL: no floor.
ALTER TABLE mini_programs ADD COLUMN minimum_version TEXT;
