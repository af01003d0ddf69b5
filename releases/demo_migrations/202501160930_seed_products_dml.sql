-- Initial catalogue.
INSERT INTO products (sku, name, price_cents) VALUES
    ('MUG-01', 'Mug; ceramic, 300 ml', 1200),
    ('KNF-02', 'Chef''s knife', 4500),
    ('TEA-03', 'Green tea, 100 g', 850);
