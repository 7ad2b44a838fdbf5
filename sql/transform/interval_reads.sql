-- interval_reads: the month's register-days from every NEM12 file delivered for it.
-- Inputs (registered by bua_assets.nem12.ingest): raw_days (reader output + file_created),
-- superseded (sql/transform/interval_reads_superseded.sql: source_file, line, winner, duplicate_of),
-- implausible (sql/transform/interval_reads_peaks.sql, flattened: source_file, line, reason), units
-- (uom -> canonical unit, factor). Parameters: $month_start, $next_month.
-- Energy is converted to kWh (reactive to kVArh). NMIs arrive normalised (bua_assets.nem12.nmi: an
-- 11-character NMI with a valid checksum digit is stripped to 10): an 11-character one left failed it. Rows not loaded carry a rejection code and
-- reason. It runs on one staged file at a time (the caller streams them in order); the joins
-- build on small tables (superseded deliveries, implausible days, units), so memory does not grow with the month.
SELECT d.nmi,
       d.suffix,
       d.register_id,
       d.meter_serial,
       u.canonical_uom AS uom,
       d.uom AS source_uom,
       CAST(d.interval_length AS SMALLINT) AS interval_length,
       d.read_date,
       CASE WHEN u.factor = 1 THEN d."values"  -- kWh as delivered: no per-value work
            ELSE list_transform(d."values", lambda x: round(x * u.factor, 6)) END AS "values",
       d.quality_method,
       d.interval_quality,
       d.reason_code,
       d.source_file,
       d.line,
       d.file_created,
       CASE
           WHEN length(d.nmi) = 11 THEN 'invalid_nmi'
           WHEN u.canonical_uom IS NULL THEN 'unknown_uom'
           WHEN d.read_date < $month_start OR d.read_date >= $next_month THEN 'outside_month'
           WHEN s.duplicate_of IS NOT NULL THEN 'duplicate_record'
           WHEN s.winner IS NOT NULL THEN 'superseded'
           WHEN i.reason IS NOT NULL THEN 'implausible_peak'
       END AS rejection,
       CASE
           WHEN length(d.nmi) = 11 THEN 'NMI ' || d.nmi || ' has 11 characters and its last is not the AEMO '
               || 'checksum digit of the first 10: register-day not loaded'
           WHEN u.canonical_uom IS NULL THEN 'unknown unit of measure ''' || d.uom || ''': register-day not loaded'
           WHEN d.read_date < $month_start OR d.read_date >= $next_month THEN 'read date outside the partition month'
           WHEN s.duplicate_of IS NOT NULL THEN 'register-day repeated later in the same file at line '
               || s.duplicate_of || ': the later record wins (not counted twice)'
           WHEN s.winner IS NOT NULL THEN 'superseded by a later delivery: ' || s.winner
           WHEN i.reason IS NOT NULL THEN 'interval ' || list_position(d."values", list_max(d."values")) || ' holds '
               || format('{:g}', list_max(d."values")) || ' ' || d.uom || ' ' || i.reason
       END AS rejection_reason,
       -- the interval an implausible day's peak is in (the rare flagged rows only)
       CASE WHEN i.reason IS NOT NULL THEN CAST(list_position(d."values", list_max(d."values")) AS VARCHAR) END
           AS rejection_interval
FROM raw_days d
LEFT JOIN superseded s ON s.source_file = d.source_file AND s.line = d.line
LEFT JOIN implausible i ON i.source_file = d.source_file AND i.line = d.line
LEFT JOIN units u ON upper(d.uom) = u.uom
ORDER BY d.line  -- one staged file at a time (bounded): the same order every run
