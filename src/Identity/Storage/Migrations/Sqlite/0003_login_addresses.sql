-- Addresses each user has logged in from (issue 11): the right password from a known address
-- still gets in while an account is in backoff because someone floods it with wrong passwords.
CREATE TABLE login_addresses (
    user_id INTEGER NOT NULL REFERENCES users (id),
    address TEXT NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, address)
);
CREATE INDEX login_addresses_last_login ON login_addresses (last_login_at);
