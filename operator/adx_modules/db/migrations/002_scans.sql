-- Scan verdicts, cached by what was scanned and what it was scanned with: the same artifact
-- digest is scanned once per vulnerability-database version and rules version across the
-- cluster. A row is written once (the first verdict of a deterministic scan stands) and read by
-- every Module on that artifact.

CREATE TABLE scans (
    digest        text        NOT NULL,   -- sha256:<hex> of the artifact (the OCI manifest)
    db_version    text        NOT NULL,   -- Trivy's vulnerability database ('' without one)
    rules_version text        NOT NULL,   -- the scanners' own rules (signatures, analysis)
    score         integer     NOT NULL CHECK (score BETWEEN 0 AND 100),
    counts        jsonb       NOT NULL,   -- {"critical": n, "high": n, "medium": n, "low": n}
    findings      jsonb       NOT NULL,   -- every finding: scanner, severity, rule, message, location
    scanned_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (digest, db_version, rules_version)
);
