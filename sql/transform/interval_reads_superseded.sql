-- interval_reads_superseded: the register-days of the month's NEM12 files that another record
-- replaces. Input: raw_days (reader output + file_created, staged as Parquet).
-- When a register-day arrives more than once, the latest delivery wins (file creation time, then
-- file name, then line); every other record is returned with where the winner came from.
-- A register-day repeated inside one file (in one 200 block or in two) is a duplicate record:
-- the later one in file order wins, as between deliveries, so it is never counted twice;
-- duplicate_of names the next copy in the same file (NULL when the repeat is in another file).
-- Only the narrow key columns are read and sorted: the interval lists never enter this query.
SELECT source_file, line, winner, duplicate_of
FROM (
    SELECT source_file,
           line,
           row_number() OVER delivery AS delivery_rank,
           first_value(source_file || ':' || line) OVER delivery AS winner,
           lead(line) OVER in_file AS duplicate_of
    FROM raw_days
    -- only the keys delivered more than once need ranking
    SEMI JOIN (SELECT nmi, suffix, read_date FROM raw_days GROUP BY ALL HAVING count(*) > 1) USING (nmi, suffix, read_date)
    WINDOW delivery AS (PARTITION BY nmi, suffix, read_date ORDER BY file_created DESC, source_file DESC, line DESC),
           in_file AS (PARTITION BY nmi, suffix, read_date, source_file ORDER BY line)
)
WHERE delivery_rank > 1
