// Droppers: code fetched from the network and run in one step, unseen by any scan.
rule download_and_execute
{
    meta:
        severity = "CRITICAL"
        description = "downloads code and pipes it into a shell or interpreter (curl | sh)"
    strings:
        $curl_pipe = /\bcurl\s[^|\n]{0,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b/
        $wget_pipe = /\bwget\s[^|\n]{0,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b/
        $pipe_python = /\b(curl|wget)\s[^|\n]{0,200}\|\s*python[0-9.]*\b/
        $iex = /IEX\s*\(\s*New-Object\s+Net\.WebClient\)\.DownloadString/ nocase
    condition:
        any of them
}
