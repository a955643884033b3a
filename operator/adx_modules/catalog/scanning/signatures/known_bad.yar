import "hash"

// Files known to be bad, by SHA-256. The EICAR test file stands in for a real sample: every
// antivirus flags it, so the rule's path is tested without keeping malware in the repository.
rule known_bad_file
{
    meta:
        severity = "CRITICAL"
        description = "a file known to be malicious (by its SHA-256)"
    condition:
        hash.sha256(0, filesize) == "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
}
