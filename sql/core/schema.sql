-- CORE billing system: the subset the BUA reads (DESIGN.md §3). MySQL dialect; loads on MariaDB
-- 10.11 and MySQL 8. This file is the contract: bua_assets.core.schema parses it for the
-- schema-drift check, for typed extraction, and to build the embedded SQLite database.
-- Conventions the parser relies on: one column per line, types in upper case, keys last.
-- Money and rates are DECIMAL, ex-GST, in dollars. Dates are NEM time (UTC+10, no DST).

CREATE TABLE Jurisdiction (
  id INT NOT NULL,
  name VARCHAR(8) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE ServiceType (
  id INT NOT NULL,
  name VARCHAR(16) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE UtilityNetwork (
  id INT NOT NULL,
  name VARCHAR(64) NOT NULL,
  jurisdiction_id INT NOT NULL,
  service_type_id INT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE UtilityTni (
  id INT NOT NULL,
  name VARCHAR(8) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE Utility (
  id INT NOT NULL,
  identifier VARCHAR(11) NOT NULL,
  service_type_id INT NOT NULL,
  cust_class_code VARCHAR(16) NOT NULL,
  utility_network_id INT NOT NULL,
  jurisdiction_id INT NOT NULL,
  meter_data_provider VARCHAR(16) NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE UtilityDetail (
  id INT NOT NULL,
  utility_id INT NOT NULL,
  utility_status VARCHAR(1) NOT NULL,
  utility_tni_id INT NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE Meter (
  id INT NOT NULL,
  utility_id INT NOT NULL,
  serial VARCHAR(16) NOT NULL,
  meter_installation_type VARCHAR(8) NOT NULL,
  pressure_correction_factor DECIMAL(8,5) NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE MeterRegister (
  id INT NOT NULL,
  meter_id INT NOT NULL,
  register_id VARCHAR(4) NOT NULL,
  suffix_id VARCHAR(2) NOT NULL,
  direction_indicator VARCHAR(1) NOT NULL,
  controlled_load TINYINT NOT NULL,
  time_class VARCHAR(16) NOT NULL,
  uom VARCHAR(8) NOT NULL,
  dial_digits INT NOT NULL,
  interval_length INT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE MeterRegisterDetail (
  id INT NOT NULL,
  meter_register_id INT NOT NULL,
  status VARCHAR(1) NOT NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE MarketPayloadMapping (
  id INT NOT NULL,
  market_tag VARCHAR(32) NOT NULL,
  market_value VARCHAR(16) NOT NULL,
  value VARCHAR(8) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE JournalAccountSegment (
  id INT NOT NULL,
  name VARCHAR(32) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE Account (
  id INT NOT NULL,
  account_number VARCHAR(12) NOT NULL,
  customer_name VARCHAR(64) NOT NULL,
  service_type_id INT NOT NULL,
  journal_segment_id INT NOT NULL,
  open_date DATE NOT NULL,
  close_date DATE NULL,
  bill_frequency VARCHAR(10) NOT NULL,
  bill_cycle_day INT NOT NULL,
  next_bill_date DATE NULL,
  pay_on_time_propensity DECIMAL(5,4) NOT NULL,
  gst_registered TINYINT NULL, -- optional: absent before issue 22 (NULL: households not registered, businesses registered)
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE AccountUtility (
  id INT NOT NULL,
  account_id INT NOT NULL,
  utility_id INT NOT NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE Plan (
  id INT NOT NULL,
  plan_code VARCHAR(40) NOT NULL,
  name VARCHAR(64) NOT NULL,
  service_type_id INT NOT NULL,
  jurisdiction_id INT NOT NULL,
  customer_type VARCHAR(16) NOT NULL,
  pricing_model VARCHAR(24) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE PlanRate (
  id INT NOT NULL,
  plan_id INT NOT NULL,
  effective_from DATE NOT NULL,
  effective_to DATE NULL,
  charge_type VARCHAR(16) NOT NULL,
  time_class VARCHAR(16) NOT NULL,
  block_order INT NOT NULL,
  block_daily_volume DECIMAL(10,3) NULL,
  unit_price DECIMAL(12,6) NOT NULL,
  uom VARCHAR(8) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE PlanTimeOfUse (
  id INT NOT NULL,
  plan_id INT NOT NULL,
  time_class VARCHAR(16) NOT NULL,
  days VARCHAR(8) NOT NULL,
  start_time VARCHAR(5) NOT NULL,
  end_time VARCHAR(5) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE PlanDiscount (
  id INT NOT NULL,
  plan_id INT NOT NULL,
  discount_type VARCHAR(12) NOT NULL,
  category VARCHAR(16) NOT NULL,
  method VARCHAR(16) NOT NULL,
  rate DECIMAL(6,4) NOT NULL,
  amount DECIMAL(12,2) NULL, -- optional: absent before issue 22 (fixedAmount and percentOverThreshold need it)
  effective_from DATE NOT NULL,
  effective_to DATE NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE AccountPlan (
  id INT NOT NULL,
  account_id INT NOT NULL,
  utility_id INT NOT NULL,
  plan_id INT NOT NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  status VARCHAR(10) NOT NULL,
  created_at DATETIME NOT NULL,
  include_in_supplementary TINYINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE Invoice (
  id INT NOT NULL,
  invoice_number VARCHAR(16) NOT NULL,
  account_id INT NOT NULL,
  issue_date DATE NOT NULL,
  due_date DATE NOT NULL,
  period_start DATE NOT NULL,
  period_end DATE NOT NULL,
  status VARCHAR(10) NOT NULL,
  is_credit TINYINT NOT NULL,
  reverses_invoice_id INT NULL,
  total_net DECIMAL(14,2) NOT NULL,
  total_gst DECIMAL(14,2) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE InvoiceLineItem (
  id BIGINT NOT NULL,
  invoice_id INT NOT NULL,
  account_id INT NOT NULL,
  utility_id INT NOT NULL,
  period_start DATE NOT NULL,
  period_end DATE NOT NULL,
  plan_item_type_name VARCHAR(24) NOT NULL,
  time_class_name VARCHAR(16) NOT NULL,
  quantity DECIMAL(14,3) NOT NULL,
  uom VARCHAR(8) NOT NULL,
  rate DECIMAL(12,6) NOT NULL,
  net_amount DECIMAL(14,2) NOT NULL,
  discount_net DECIMAL(14,2) NOT NULL,
  is_credit TINYINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE BasicRead (
  id BIGINT NOT NULL,
  meter_register_id INT NOT NULL,
  read_date DATE NOT NULL,
  reading DECIMAL(14,3) NOT NULL,
  read_type VARCHAR(12) NOT NULL,
  quality VARCHAR(3) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE GasHeatingValue (
  id INT NOT NULL,
  utility_network_id INT NOT NULL,
  month DATE NOT NULL,
  heating_value DECIMAL(8,4) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE GasNetworkDailyVolume (
  id INT NOT NULL,
  utility_network_id INT NOT NULL,
  gas_date DATE NOT NULL,
  volume DECIMAL(14,1) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
