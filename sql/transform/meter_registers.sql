-- meter_registers: every meter register with what estimation needs (DESIGN §5.3, §5.4).
-- Inputs: utility, meter, meter_register, register_detail (MeterRegisterDetail), jurisdiction,
-- service_type, payload_mapping (MarketPayloadMapping). Parameters: $window_start, $month_end.
-- The register's segment is (RES/BUS, jurisdiction, stream type). Stream type and the choice of
-- profile registers follow the legacy bua_list_profile_registers: interval meters (COMMS*, MR*)
-- on 10-character NMIs with a current register detail overlapping the window; CONTROL when the
-- register is controlled load (flag or a ControlledLoad suffix), SOLAR when it exports (direction
-- E or a Solar suffix), PRIMARY otherwise. Gas registers stream GAS and are never profiled.
WITH mapped AS (
    SELECT market_tag, market_value FROM payload_mapping WHERE upper(value) = 'YES'
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
       r.uom,
       r.dial_digits,
       coalesce(r.interval_length, 30) AS interval_length,
       coalesce(m.pressure_correction_factor, 1.0) AS pressure_correction_factor,
       m.pressure_correction_factor IS NULL AND st.name = 'GAS' AS pressure_correction_missing,
       d.meter_register_id IS NOT NULL AS current_in_window,
       (m.meter_installation_type LIKE 'COMMS%' OR m.meter_installation_type LIKE 'MR%')
           AND length(u.identifier) = 10 AND d.meter_register_id IS NOT NULL AND st.name = 'ELECTRICITY'
           AS profile_register
FROM meter_register r
JOIN meter m ON m.id = r.meter_id
JOIN utility u ON u.id = m.utility_id
JOIN jurisdiction j ON j.id = u.jurisdiction_id
JOIN service_type st ON st.id = u.service_type_id
LEFT JOIN current_detail d ON d.meter_register_id = r.id
ORDER BY r.id
