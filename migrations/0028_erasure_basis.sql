-- 0028_erasure_basis.sql: which events an erasure keeps (GDPR Art. 17(3); docs/gdpr.md,
-- "Erasure"). A retention policy whose erasure_rule is 'pseudonymize' forbids deleting the
-- personal data of its events before their retention ends (a legal obligation, e.g. HIPAA's six
-- years for PHI audit records): an erasure request pseudonymizes those events instead and records
-- erasure_basis as the legal basis. 'erase' (the default) lets the erasure delete the values.
-- Runs in one transaction opened by the migration runner: no BEGIN/COMMIT here.

ALTER TABLE audit_retention_policy
    ADD COLUMN erasure_rule text NOT NULL DEFAULT 'erase'
        CONSTRAINT audit_retention_policy_erasure_rule_check
        CHECK (erasure_rule IN ('erase', 'pseudonymize')),
    ADD COLUMN erasure_basis text;

-- The seeded PHI policy: audit records of PHI access are kept for six years (45 CFR
-- 164.316(b)(2)(i)); an erasure pseudonymizes them. Only the seeded row, and only if an operator
-- has not set a rule already (a fresh column: none has).
UPDATE audit_retention_policy
   SET erasure_rule = 'pseudonymize',
       erasure_basis = 'GDPR Art. 17(3)(b): legal obligation (HIPAA 45 CFR 164.316(b)(2)(i), six-year retention)'
 WHERE policy_name = 'phi_extended';
