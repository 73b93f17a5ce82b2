-- +goose Up
-- The addresses an e-mail delivery has already reached, so that a retry after
-- some addresses failed sends only to the others. Rows go with their delivery.
CREATE TABLE delivery_mail_sends (
    delivery_id INTEGER  NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    address     TEXT     NOT NULL,
    sent_at     DATETIME NOT NULL,
    PRIMARY KEY (delivery_id, address)
);

-- +goose Down
DROP TABLE delivery_mail_sends;
