-- Settings area: no schema changes. The columns it uses (payment_link_enabled,
-- payment_link_target, logo, logo_type, office_users.name/disabled_at) come from
-- 0002, and the dashboard's payments index from 0005.
SELECT 1;
