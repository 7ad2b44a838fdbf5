-- unbilled_days: DESIGN §5.1, the unbilled window of every account x supply point, by calendar month.
-- Inputs: account_utility (AccountUtility), accounts (Account), invoices (Invoice),
-- line_items (InvoiceLineItem). Parameters: $month_end (last day of the accrual month),
-- $run_date, $horizon_start (first day inside the lookback horizon).
-- Billed coverage = days of issued debit periods not cancelled by a matching credit: per account x
-- supply point x period, one vote per issued invoice (+1 debit, -1 credit); a period stays billed
-- while its net is positive, so a reversed-and-reissued bill still covers its days once.
WITH billed_periods AS (
    SELECT li.account_id, li.utility_id, li.period_start, li.period_end,
           sum(CASE WHEN i.is_credit = 1 THEN -1 ELSE 1 END) AS net
    FROM (SELECT DISTINCT invoice_id, account_id, utility_id, period_start, period_end FROM line_items) li
    JOIN invoices i ON i.id = li.invoice_id
    WHERE i.status = 'ISSUED' AND i.issue_date < $run_date
    GROUP BY ALL
    HAVING sum(CASE WHEN i.is_credit = 1 THEN -1 ELSE 1 END) > 0
),
tenancy AS (  -- the days the account held the supply point, up to the month end
    SELECT au.id AS tenancy_id, au.account_id, au.utility_id,
           greatest(au.start_date, a.open_date) AS window_start,
           least(coalesce(au.end_date, $month_end), coalesce(a.close_date, $month_end), $month_end) AS window_end,
           a.next_bill_date
    FROM account_utility au
    JOIN accounts a ON a.id = au.account_id
),
covered AS (  -- billed periods clipped to the tenancy
    SELECT t.tenancy_id, greatest(b.period_start, t.window_start) AS s, least(b.period_end, t.window_end) AS e
    FROM tenancy t
    JOIN billed_periods b ON b.account_id = t.account_id AND b.utility_id = t.utility_id
    WHERE b.period_end >= t.window_start AND b.period_start <= t.window_end
),
ordered AS (  -- how far coverage reached before each period starts
    SELECT tenancy_id, s, e,
           max(e) OVER (PARTITION BY tenancy_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS covered_until
    FROM covered
),
gaps AS (  -- gaps-and-islands on intervals, so only unbilled days are ever expanded
    SELECT o.tenancy_id, coalesce(o.covered_until + 1, t.window_start) AS gap_start, o.s - 1 AS gap_end
    FROM ordered o JOIN tenancy t USING (tenancy_id)
    UNION ALL
    SELECT t.tenancy_id, coalesce(max(c.e) + 1, t.window_start), t.window_end
    FROM tenancy t LEFT JOIN covered c USING (tenancy_id)
    GROUP BY t.tenancy_id, t.window_start, t.window_end
),
unbilled AS (
    SELECT t.account_id, t.utility_id, t.next_bill_date, CAST(d.day AS DATE) AS day
    FROM gaps g
    JOIN tenancy t USING (tenancy_id),
    LATERAL generate_series(g.gap_start, g.gap_end, INTERVAL 1 DAY) AS d(day)
    WHERE g.gap_start <= g.gap_end
)
SELECT account_id,
       utility_id,
       CAST(date_trunc('month', day) AS DATE) AS year_mnth,
       min(day) AS first_day,
       max(day) AS last_day,
       count(DISTINCT day) AS unbilled_days,
       CASE WHEN any_value(next_bill_date) IS NULL OR any_value(next_bill_date) < $run_date
            THEN 'OVERDUE' ELSE 'NOT_DUE' END AS bill_status,
       min(day) < $horizon_start AS beyond_horizon
FROM unbilled
GROUP BY account_id, utility_id, year_mnth
ORDER BY account_id, utility_id, year_mnth
