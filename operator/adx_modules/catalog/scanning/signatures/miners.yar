// Cryptocurrency miners: pool protocols and the common miner binaries' own strings.
rule crypto_miner
{
    meta:
        severity = "CRITICAL"
        description = "a cryptocurrency miner (mining-pool protocol or miner strings)"
    strings:
        $stratum = "stratum+tcp://" nocase
        $stratum_tls = "stratum+ssl://" nocase
        $xmrig = "xmrig" nocase
        $cryptonight = "cryptonight" nocase
        $randomx = "randomx" nocase fullword
        $nicehash = "nicehash.com" nocase
        $minexmr = "minexmr.com" nocase
        $donate = "--donate-level" nocase
    condition:
        any of ($stratum*) or 2 of ($xmrig, $cryptonight, $randomx, $nicehash, $minexmr, $donate)
}
