-- Every time column holds Unix milliseconds. Two held seconds: revoked_tokens.expires_at and
-- refresh_tokens.access_expires_at, while the maintenance pass purged with milliseconds, so every
-- revoked access token was deleted at the next pass (issue 11). Values below 10^11 are seconds:
-- 10^11 milliseconds is March 1973, 10^11 seconds the year 5138.
UPDATE revoked_tokens SET expires_at = expires_at * 1000 WHERE expires_at < 100000000000;
UPDATE refresh_tokens SET access_expires_at = access_expires_at * 1000 WHERE access_expires_at < 100000000000;
