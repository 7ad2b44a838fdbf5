-- interval_reads: the month's register-days from every NEM12 file delivered for it.
-- Inputs (registered by bua_assets.nem12.ingest): raw_days (reader output + file_created),
-- units (uom -> canonical unit, factor). Parameters: $month_start, $next_month.
-- Energy is converted to kWh (reactive to kVArh); when a register-day arrives more than once,
-- the latest delivery wins (file creation time, then file name, then line) and the others are
-- returned as superseded, with where the winner came from.
WITH ranked AS (
    SELECT d.*,
           u.canonical_uom,
           u.factor,
           row_number() OVER (
               PARTITION BY d.nmi, d.suffix, d.read_date
               ORDER BY d.file_created DESC, d.source_file DESC, d.line DESC
           ) AS delivery_rank,
           first_value(d.source_file || ':' || d.line) OVER (
               PARTITION BY d.nmi, d.suffix, d.read_date
               ORDER BY d.file_created DESC, d.source_file DESC, d.line DESC
           ) AS winner
    FROM raw_days d
    LEFT JOIN units u ON upper(d.uom) = u.uom
)
SELECT nmi,
       suffix,
       register_id,
       meter_serial,
       canonical_uom AS uom,
       uom AS source_uom,
       CAST(interval_length AS SMALLINT) AS interval_length,
       read_date,
       list_transform("values", lambda x: round(x * factor, 6)) AS "values",
       quality_method,
       interval_quality,
       reason_code,
       source_file,
       line,
       file_created,
       CASE
           WHEN canonical_uom IS NULL THEN 'unknown_uom'
           WHEN read_date < $month_start OR read_date >= $next_month THEN 'outside_month'
           WHEN delivery_rank > 1 THEN 'superseded'
       END AS rejection,
       CASE
           WHEN canonical_uom IS NULL THEN 'unknown unit of measure ''' || uom || ''': register-day not loaded'
           WHEN read_date < $month_start OR read_date >= $next_month THEN 'read date outside the partition month'
           WHEN delivery_rank > 1 THEN 'superseded by a later delivery: ' || winner
       END AS rejection_reason
FROM ranked
ORDER BY nmi, suffix, read_date, delivery_rank
