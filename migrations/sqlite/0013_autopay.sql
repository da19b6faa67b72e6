-- Autopay: schedules, charges, retries (filled in by the autopay work).
SELECT 1;
