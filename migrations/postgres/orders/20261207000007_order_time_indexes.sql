-- The monthly report reads orders placed and completed in a month.
-- Keep this file and its twin in the other backend's folder the same.
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_completed ON orders (completed_at);
