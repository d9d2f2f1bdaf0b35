-- 0039: erasure of events stored before sha256-c14n-v3 (docs/integrity.md 8b).
-- Their hash covers the values, so an erasure changes what the row hashes to. A residual
-- record, signed with K_sig like every erasure record, binds the event's stored hash and the
-- content hash its chain link covers (original_hash, original_content) to the SHA-256 of the
-- canonical form it has after the erasure (kept in commitment). Verification accepts such a
-- row only with a valid record naming exactly what it holds now. NULL for v3 records.
ALTER TABLE audit_erasure ADD COLUMN original_content text, ADD COLUMN original_hash text;
ALTER TABLE audit_erasure ADD CONSTRAINT audit_erasure_residual_pair
    CHECK ((original_content IS NULL) = (original_hash IS NULL));
