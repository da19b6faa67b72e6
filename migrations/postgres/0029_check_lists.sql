-- SQLite's checks against lists of values are rewritten (see
-- migrations/sqlite/0029_check_lists.sql); PostgreSQL tests such a list in
-- place, so its checks stay as they are.
SELECT 1;
