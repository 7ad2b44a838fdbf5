-- meter_registers: every meter register with what estimation needs (DESIGN §5.3, §5.4).
-- Inputs: utility, meter, meter_register, register_detail (MeterRegisterDetail), jurisdiction,
-- service_type, payload_mapping (MarketPayloadMapping). Parameters: $window_start, $month_end.
-- The register's segment is (RES/BUS, jurisdiction, stream type). Stream type and the choice of
-- profile registers follow the legacy bua_list_profile_registers: interval meters (COMMS*, MR*)
-- on 10-character NMIs with a current register detail overlapping the window; CONTROL when the
-- register is controlled load (flag or a ControlledLoad suffix), SOLAR when it exports (direction
-- E or a Solar suffix), PRIMARY otherwise. Gas registers stream GAS and are never profiled.
-- profile_stream_type follows the legacy rules exactly, in this order (it names the register's
-- profile segment; stream_type above stays what the register is billed as): CONTROL when the
-- register's controlled-load value maps to YES (market_tag ControlledLoad); else SOLAR when the
-- suffix starts with A, B, C, J, K or L, or with N or X and the direction is I; else PRIMARY.
-- tni: the TNI of the supply point's active (status A) detail overlapping the window, the latest.
-- Extra inputs: utility_detail (UtilityDetail), tni (UtilityTni).
-- active_from, active_to (inclusive; NULL: open): the days the register measures its channel, within
-- its meter's start_date..end_date and its current (status C) details' first start..last end. A
-- register followed on its supply point and suffix by another (a meter exchange) ends the day before
-- the later one's first day, so an exchange day counts once, for the new register.
WITH controlled_yes AS (
    SELECT market_value FROM payload_mapping WHERE market_tag = 'ControlledLoad' AND upper(value) = 'YES'
),
active_tni AS (
    SELECT ud.utility_id, arg_max(t.name, ud.start_date) AS tni
    FROM utility_detail ud LEFT JOIN tni t ON t.id = ud.utility_tni_id
    WHERE ud.utility_status = 'A' AND ud.start_date <= $month_end
      AND coalesce(ud.end_date, DATE '9999-12-31') >= $window_start
    GROUP BY ud.utility_id
),
mapped AS (
    SELECT market_tag, market_value FROM payload_mapping WHERE upper(value) = 'YES'
),
register_life AS (
    SELECT r.id AS register_id,
           m.utility_id,
           r.suffix_id,
           greatest(m.start_date, rd.first_start) AS active_from,
           least(m.end_date, nullif(rd.last_end, DATE '9999-12-31')) AS active_to
    FROM meter_register r
    JOIN meter m ON m.id = r.meter_id
    LEFT JOIN (
        SELECT meter_register_id, min(start_date) AS first_start, max(coalesce(end_date, DATE '9999-12-31')) AS last_end
        FROM register_detail WHERE status = 'C' GROUP BY meter_register_id
    ) rd ON rd.meter_register_id = r.id
),
register_span AS (
    SELECT register_id,
           active_from,
           CASE WHEN next_from > active_from THEN least(active_to, CAST(next_from - 1 AS DATE)) ELSE active_to END
               AS active_to
    FROM (
        SELECT *, lead(active_from) OVER (PARTITION BY utility_id, suffix_id ORDER BY active_from, register_id) AS next_from
        FROM register_life
    )
),
current_detail AS (  -- a register counts while a current (status C) detail overlaps the window
    SELECT meter_register_id, min(start_date) AS detail_start, max(coalesce(end_date, DATE '9999-12-31')) AS detail_end
    FROM register_detail
    WHERE status = 'C' AND start_date <= $month_end AND coalesce(end_date, DATE '9999-12-31') >= $window_start
    GROUP BY meter_register_id
)
SELECT r.id AS register_id,
       u.id AS utility_id,
       u.identifier AS nmi,
       r.suffix_id AS suffix,
       -- the NEM12 NMI configuration: the supply point's suffixes in register order
       string_agg(r.suffix_id, '' ORDER BY r.id) OVER (PARTITION BY u.id) AS nmi_configuration,
       r.register_id AS register_code,
       m.serial AS meter_serial,
       m.meter_installation_type,
       CASE WHEN m.meter_installation_type LIKE 'COMMS%' OR m.meter_installation_type LIKE 'MR%'
            THEN 'INTERVAL' ELSE 'BASIC' END AS read_kind,
       st.name AS fuel,
       j.name AS jurisdiction,
       u.utility_network_id AS network_id,
       CASE WHEN u.cust_class_code = 'BUSINESS' THEN 'BUS' ELSE 'RES' END AS customer_class,
       CASE
           WHEN st.name = 'GAS' THEN 'GAS'
           WHEN r.controlled_load = 1 OR r.suffix_id IN (SELECT market_value FROM mapped WHERE market_tag = 'ControlledLoad')
               THEN 'CONTROL'
           WHEN r.direction_indicator = 'E' OR r.suffix_id IN (SELECT market_value FROM mapped WHERE market_tag = 'Solar')
               THEN 'SOLAR'
           ELSE 'PRIMARY'
       END AS stream_type,
       CASE
           WHEN st.name = 'GAS' THEN 'GAS'
           WHEN CAST(r.controlled_load AS VARCHAR) IN (SELECT market_value FROM controlled_yes) THEN 'CONTROL'
           WHEN upper(left(r.suffix_id, 1)) IN ('A', 'B', 'C', 'J', 'K', 'L')
                OR (upper(left(r.suffix_id, 1)) IN ('N', 'X') AND r.direction_indicator = 'I') THEN 'SOLAR'
           ELSE 'PRIMARY'
       END AS profile_stream_type,
       tn.tni,
       r.uom,
       r.dial_digits,
       coalesce(r.interval_length, 30) AS interval_length,
       coalesce(m.pressure_correction_factor, 1.0) AS pressure_correction_factor,
       m.pressure_correction_factor IS NULL AND st.name = 'GAS' AS pressure_correction_missing,
       d.meter_register_id IS NOT NULL AS current_in_window,
       (m.meter_installation_type LIKE 'COMMS%' OR m.meter_installation_type LIKE 'MR%')
           AND length(u.identifier) = 10 AND d.meter_register_id IS NOT NULL AND st.name = 'ELECTRICITY'
           AS profile_register,
       sp.active_from,
       sp.active_to
FROM meter_register r
JOIN meter m ON m.id = r.meter_id
JOIN utility u ON u.id = m.utility_id
JOIN jurisdiction j ON j.id = u.jurisdiction_id
JOIN service_type st ON st.id = u.service_type_id
LEFT JOIN current_detail d ON d.meter_register_id = r.id
LEFT JOIN active_tni tn ON tn.utility_id = u.id
JOIN register_span sp ON sp.register_id = r.id
ORDER BY r.id
