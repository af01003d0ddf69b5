-- Optional phone number for delivery notices.
ALTER TABLE customers ADD COLUMN phone TEXT;
