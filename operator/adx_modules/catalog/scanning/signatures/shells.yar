// Reverse shells: a shell's input and output handed to a network connection.
rule reverse_shell
{
    meta:
        severity = "CRITICAL"
        description = "a reverse shell (a shell wired to a network connection)"
    strings:
        $dev_tcp = /(ba)?sh\s+-i\s*[>&0-9 ]*\/dev\/(tcp|udp)\//
        $nc_exec = /\b(nc|ncat|netcat)\b[^\n]{0,80}\s-(e|c)\s*\/bin\/(ba)?sh/
        $mkfifo = /mkfifo\s+\S+[^\n]{0,80}\|\s*\/bin\/(ba)?sh\s+-i/
        $py_socket = /socket\.socket\([^\n]{0,200}(dup2|subprocess)[^\n]{0,200}\/bin\/(ba)?sh/
        $socat = /socat\s[^\n]{0,80}exec:[^\n]{0,20}(ba)?sh/ nocase
    condition:
        any of them
}
