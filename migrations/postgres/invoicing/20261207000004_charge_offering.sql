-- The offering whose price made a charge: its VAT (tax_by_offering) and its line label follow
-- it. A bandwidth upgrade's reconfiguration fee is priced by bandwidth-upgrade although it
-- belongs to the wan-link subscription. NULL (charges stored before) means the subscription's
-- offering, which is what those charges were taxed and labelled by.
-- Keep this file and its twin in the other backend's folder the same.
ALTER TABLE subscription_charges ADD COLUMN offering TEXT;
