-- interval_reads: the month's register-days from every NEM12 file delivered for it.
-- Inputs (registered by bua_assets.nem12.ingest): raw_days (reader output + file_created),
-- units (uom -> canonical unit, factor). Parameters: $month_start, $next_month.
-- Energy is converted to kWh (reactive to kVArh); when a register-day arrives more than once,
-- the latest delivery wins (file creation time, then file name, then line) and the others are
-- returned as superseded, with where the winner came from.
-- The ranking reads only the narrow key columns; the interval lists stream through a join, so
-- a month larger than memory still fits (the sort spills).
WITH ranked AS (
    SELECT source_file,
           line,
           row_number() OVER delivery AS delivery_rank,
           first_value(source_file || ':' || line) OVER delivery AS winner
    FROM raw_days
    WINDOW delivery AS (PARTITION BY nmi, suffix, read_date ORDER BY file_created DESC, source_file DESC, line DESC)
)
SELECT d.nmi,
       d.suffix,
       d.register_id,
       d.meter_serial,
       u.canonical_uom AS uom,
       d.uom AS source_uom,
       CAST(d.interval_length AS SMALLINT) AS interval_length,
       d.read_date,
       list_transform(d."values", lambda x: round(x * u.factor, 6)) AS "values",
       d.quality_method,
       d.interval_quality,
       d.reason_code,
       d.source_file,
       d.line,
       d.file_created,
       CASE
           WHEN u.canonical_uom IS NULL THEN 'unknown_uom'
           WHEN d.read_date < $month_start OR d.read_date >= $next_month THEN 'outside_month'
           WHEN r.delivery_rank > 1 THEN 'superseded'
       END AS rejection,
       CASE
           WHEN u.canonical_uom IS NULL THEN 'unknown unit of measure ''' || d.uom || ''': register-day not loaded'
           WHEN d.read_date < $month_start OR d.read_date >= $next_month THEN 'read date outside the partition month'
           WHEN r.delivery_rank > 1 THEN 'superseded by a later delivery: ' || r.winner
       END AS rejection_reason
FROM raw_days d
JOIN ranked r USING (source_file, line)
LEFT JOIN units u ON upper(d.uom) = u.uom
ORDER BY d.nmi, d.suffix, d.read_date, r.delivery_rank
