-- interval_reads_peaks: each register's peak demand in the month, and the register-days whose
-- peak is implausible for that register (a value the meter cannot have recorded: a typo, a unit
-- slip, a corrupted interval) rather than beyond a fixed limit that would reject large sites.
-- Inputs: raw_days (staged reader output with each day's peak value, in the file's unit), superseded (sql/transform/interval_reads_superseded.sql),
-- units (uom -> canonical unit, factor), previous_peaks (last month's register_peaks: nmi, suffix,
-- peak_kw), nmi_keys (nmi -> lake_nmi where the lake's NMIs are anonymised; empty otherwise).
-- Parameters: $month_start, $next_month, $ratio, $floor_kw.
-- Only the register-days that would load are judged (in the month, known unit, a valid NMI, the
-- delivery that wins). A day is implausible when its peak (kW, or kVAr on reactive registers) is
-- more than $ratio times the largest of: the register's peak on every other day of this month,
-- its peak last month, and $floor_kw. A register with no other day and no last month is not
-- judged (the reader's fixed ceiling still applies): one day alone says nothing about the meter.
-- One row per register: its peak over the days that load (NULL when none) and the implausible
-- days with the reason (interval_reads.sql puts the interval and value in front). Only narrow
-- columns are read: the interval lists never enter this query.
WITH days AS (
    SELECT d.nmi,
           d.suffix,
           d.source_file,
           d.line,
           u.canonical_uom,
           d.peak * u.factor * 60 / d.interval_length AS peak_kw
    FROM raw_days d
    JOIN units u ON upper(d.uom) = u.uom
    ANTI JOIN superseded s ON s.source_file = d.source_file AND s.line = d.line
    WHERE length(d.nmi) <> 11 AND d.read_date >= $month_start AND d.read_date < $next_month
),
judged AS (
    SELECT days.*,
           max(days.peak_kw) OVER (
               PARTITION BY days.nmi, days.suffix
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW
           ) AS other_days_kw,
           p.peak_kw AS previous_kw
    FROM days
    LEFT JOIN nmi_keys k ON k.nmi = days.nmi
    LEFT JOIN previous_peaks p ON p.nmi = coalesce(k.lake_nmi, days.nmi) AND p.suffix = days.suffix
),
flagged AS (
    SELECT *,
           coalesce(
               (other_days_kw IS NOT NULL OR previous_kw IS NOT NULL)
               AND peak_kw > $ratio * greatest(other_days_kw, previous_kw, $floor_kw),
               false
           ) AS implausible,
           replace(canonical_uom, 'h', '') AS rate_unit
    FROM judged
)
SELECT nmi,
       suffix,
       max(peak_kw) FILTER (WHERE NOT implausible) AS peak_kw,
       count(*) FILTER (WHERE NOT implausible) AS days,
       list({
           'source_file': source_file,
           'line': line,
           'reason': '(' || format('{:g}', round(peak_kw, 1)) || ' ' || rate_unit || '), more than '
               || format('{:g}', $ratio) || ' times the register''s peak on its other days this month ('
               || coalesce(format('{:g}', round(other_days_kw, 1)) || ' ' || rate_unit, 'none')
               || ') and last month (' || coalesce(format('{:g}', round(previous_kw, 1)) || ' ' || rate_unit, 'none') || ')'
               || CASE WHEN $floor_kw > coalesce(greatest(other_days_kw, previous_kw), 0)
                       THEN ', taken as at least ' || format('{:g}', $floor_kw) || ' ' || rate_unit ELSE '' END
               || ': register-day not loaded (estimated instead)'
       } ORDER BY source_file, line) FILTER (WHERE implausible) AS implausible
FROM flagged
GROUP BY nmi, suffix
ORDER BY nmi, suffix
