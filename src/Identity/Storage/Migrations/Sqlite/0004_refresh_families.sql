-- A refresh-token family is a session: every token rotated from one login. Its row is what a
-- rotation and a revocation of the family both write first, so they take turns: spending the
-- old token and inserting the new one happen in one transaction that also checks the family is
-- alive, and a family revoked while a rotation runs waits for it and then revokes the new token
-- too (issue 11). created_at bounds the session's absolute lifetime (Auth:SessionDays).
CREATE TABLE refresh_families (
    family_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    rotated_at INTEGER NULL,
    revoked_at INTEGER NULL
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Sessions begun before this migration: begun with their first token, alive while any token is.
INSERT INTO refresh_families (family_id, user_id, created_at, revoked_at)
SELECT family_id, MIN(user_id), MIN(created_at), CASE WHEN COUNT(revoked_at) = COUNT(*) THEN MAX(revoked_at) ELSE NULL END
FROM refresh_tokens
GROUP BY family_id;
