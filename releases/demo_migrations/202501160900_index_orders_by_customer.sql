-- "My orders" pages look orders up by customer, newest first.
-- sluice:lock-timeout 5s
CREATE INDEX idx_orders_customer_created ON orders (customer_id, created_at);

CREATE INDEX idx_order_items_order ON order_items (order_id);
