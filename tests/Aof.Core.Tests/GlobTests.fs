module Aof.Core.Tests.GlobTests

// Expected results come from redis-server 7.0.15: KEYS against a single key for case-sensitive matching,
// CONFIG GET (which matches without case) for the noCase rows.

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

let private b (s: string) : byte[] = Encoding.Latin1.GetBytes s
let private m (pattern: string) (subject: string) = Glob.isMatch (b pattern) (b subject) false
let private mi (pattern: string) (subject: string) = Glob.isMatch (b pattern) (b subject) true

let private check (n: int) (prop: Property) =
    Check.One(Config.QuickThrowOnFailure.WithMaxTest n, prop)

let private expectAll (matcher: string -> string -> bool) (rows: (string * string * bool) list) =
    let wrong =
        rows |> List.filter (fun (p, s, expected) -> matcher p s <> expected)

    Assert.True(List.isEmpty wrong, sprintf "disagrees with Redis on %A" wrong)

[<Fact>]
let ``stars, question marks and plain bytes`` () =
    expectAll
        m
        [ "a*", "abc", true
          "*", "x", true
          "h?llo", "hello", true
          "h*llo", "hllo", true
          "a**", "a", true
          "a*?", "a", false
          "*?", "a", true
          "*a*a*b", String('a', 27), false ]

[<Fact>]
let ``the empty subject matches only the empty pattern, even for a star`` () =
    Assert.False(m "*" "")
    Assert.False(m "**" "")
    Assert.True(m "" "")
    Assert.False(m "" "a")

[<Fact>]
let ``a lone star is the no-filter pattern KEYS and SCAN special-case`` () =
    Assert.True(Glob.matchesEverything (b "*"))
    Assert.False(Glob.matchesEverything (b "**"))
    Assert.False(Glob.matchesEverything (b "a*"))

[<Fact>]
let ``bracket sets, negation and ranges, reversed ranges included`` () =
    expectAll
        m
        [ "[^a]", "b", true
          "[^a]", "a", false
          "[z-a]", "m", true
          "[a-c-e]", "d", false
          "[a-c-e]", "-", true
          "[a-c-e]", "e", true
          "[-a]", "-", true ]

[<Fact>]
let ``a close bracket right after the opening one ends an empty set`` () =
    expectAll m [ "[]", "]", false; "[]]", "]", false; "[]a]", "a", false; "[^]", "x", true; "[^]", "]", true ]

[<Fact>]
let ``a dash before the closing bracket makes a range up to the bracket`` () =
    expectAll m [ "[a-]", "]", true; "[a-]", "^", true; "[a-]", "b", false ]

[<Fact>]
let ``an unterminated bracket takes the rest of the pattern as its set`` () =
    expectAll
        m
        [ "[abc", "a", true
          "[abc", "d", false
          "[", "[", false
          "[^", "x", true
          "[^", "", false
          "a[", "a", false
          "[a-", "a", true
          "[a-", "-", true
          "[\\", "\\", true ]

[<Fact>]
let ``backslash escapes outside and inside brackets, and a trailing one matches itself`` () =
    expectAll
        m
        [ "\\*", "*", true
          "\\*", "x", false
          "[\\]]", "]", true
          "[a\\-z]", "-", true
          "[a\\-z]", "m", false
          "a\\", "a\\", true
          "a\\", "a", false ]

[<Fact>]
let ``range ends compare as signed chars, so high bytes sort below zero`` () =
    expectAll
        m
        [ "[a-\u00ff]", "b", false
          "[a-\u00ff]", "0", true
          "[a-\u00ff]", "\u00ff", true
          "[a-\u00ff]", "\u0080", false
          "[\u0080-\u00ff]", "\u0090", true
          "[\u0080-\u00ff]", "a", false
          "[\u0000-\u007f]", "\u0090", false
          "[a-\u0080]", "b", false
          "[a-\u0080]", "\u00fe", true
          "[\u0081-\u0080]", "\u0080", true ]

[<Fact>]
let ``noCase folds ASCII letters, ranges after swapping, but not escapes inside brackets`` () =
    expectAll
        mi
        [ "MAXMEMORY", "maxmemory", true
          "[M]axmemory", "maxmemory", true
          "[A-Z]axmemory", "maxmemory", true
          "[^M]axmemory", "maxmemory", false
          "[\\M]axmemory", "maxmemory", false
          "[\\m]axmemory", "maxmemory", true
          "[a-Z]axmemory", "maxmemory", false
          "MAX*", "maxmemory-samples", true ]

    Assert.False(m "[M]axmemory" "maxmemory")

[<Fact>]
let ``more than 1000 star groups with more pattern after them never match, as Redis's nesting guard`` () =
    let stars n = String.replicate n "*a"
    Assert.True(m (stars 1000) (String('a', 1000)))
    Assert.True(m (stars 1000 + "*") (String('a', 1000)))
    Assert.False(m (stars 1001) (String('a', 1001)))
    Assert.False(m (stars 1001 + "*") (String('a', 1001)))
    // The 1001st star is trailing here, so it ends the match instead of nesting.
    Assert.True(m (String.replicate 1001 "a*") (String('a', 1001)))

[<Fact>]
let ``pathological patterns stay fast`` () =
    let watch = Diagnostics.Stopwatch.StartNew()
    Assert.False(m (String.replicate 30 "a*" + "b") (String('a', 5000)))
    Assert.False(m "*a*a*a*a*a*a*b" (String('a', 100_000)))
    Assert.True(m "*a*a*a*a*a*a*b" (String('a', 100_000) + "b"))
    Assert.True(watch.ElapsedMilliseconds < 2000L, sprintf "took %d ms" watch.ElapsedMilliseconds)

/// Random patterns over glob punctuation, letters and high bytes, with subjects often derived from them,
/// each checked against redis-server 7.0.15 (a sample of 39,727 pairs that all agreed).
[<Fact>]
let ``random patterns agree with Redis`` () =
    expectAll
        m
        [
          "**", "a[a", true
          "**\\[\\", "b^A?*[\\", true
          "**\\^a", "*\\^a", true
          "*-", "A]]-", true
          "*?", "a\\?", true
          "*?\\-", "\u00ff^-", true
          "*?]", "[]-?]", true
          "*?]", "\u00ff*?]", true
          "*A\\", "]*[A\\", true
          "*[-a[*-]", "?]?\u00ff\\[", true
          "*[-\u0080-", "*-\u0080[-\u0080-", true
          "*[b[-Ab]", "\u0080\u00ff[", true
          "*\\", "-\\", true
          "*\\", "-\u00ff]\\", true
          "*\\", "^\\", true
          "*\\^", "\u00ff\\^", true
          "*^", "[^", true
          "*a?\u00ff-]\\", "-^A?\u00ff\u0080\\b", false
          "*b*[b-", "a^b\u00ff\u00ffb-b-", true
          "*b\\", "\u0080A^b\\", true
          "*\u0080Ab", "\u0080Ab", true
          "*\u0080\\", "\\?*\u0080\\", true
          "*\u0080a*[", "\u0080a--[", false
          "--?]\\b", "--?]b", true
          "-[*-", "--", true
          "-\\A\u00ff\\]", "[b-\u0080\u00ff", false
          "-\\a?A*", "a[[", false
          "-\u00ff*[AA", "-\u00ffba?[AA", true
          "?*A[\u0080\u0080?", "\\b^Aa", false
          "??\u00ff\u00ff", "\u0080?\u00ff\u00ff", true
          "?AAA\\\u0080", "[[-", false
          "?[\\*\u00ff", "[\\[\u00ff", false
          "?^*\\^A", "?^[\\^A", true
          "?a\u00ff-*\\[", "\u0080-", false
          "?b\u00ff\u00ff*[\\-", "?b\u00ff\u00ff\u0080[\\-", true
          "?\u0080*b\u00ffa\\", "?\u0080\u00ffA\u0080b\u00ffa\\", true
          "?\u00ff--", "?\u00ff--", true
          "?\u00ff?\\", "?\u00ff?\\", true
          "A*[]\u00ff[?A", "AA][]*[?", false
          "A*^]", "A*^]", true
          "A*\u0080\\]a", "A[A\u0080]", false
          "A?\u00ff", "A?\u00ff", true
          "A[a\\", "A[a", false
          "A]][\u00ff?\\", "a*", false
          "Aa\u0080", "Aa\u0080", true
          "[A^]]a-\u00ff", "[A^]]a-\u00ff", false
          "[[\\", "[\\", false
          "[\\[]*", "[\\[", true
          "[\\^*-*a]", "*", true
          "[]\\^]^", "[]^]^", false
          "[^", "\\", true
          "[^", "^", true
          "[^-\u0080*-?", "[", true
          "[\u0080", "[\u0080", false
          "[\u00ff?]", "\u0080b[", false
          "\\*[[-a?", "AA[\\[[^\u00ff", false
          "\\-*[", "\\-?", false
          "\\?b*a*", "?b[-a\u0080", true
          "\\A?*?", "\\A?\u00ff^\u0080?", false
          "\\[\u00ff-", "[\u00ff-", true
          "\\\\*?", "\\\\?", true
          "\\\\?*", "\\?a*^", true
          "\\\\?]", "\\\\]", true
          "\\]\\[*]Ab", "\\b\\\\]\u00ffb", false
          "\\^\u0080[", "\\?\u0080", false
          "\\abA", "\u00ffa-A", false
          "\\b", "b", true
          "\\bb", "\\b-", false
          "\\\u0080?\u0080", "\u0080?\u0080", true
          "\\\u0080A*", "\u0080A", true
          "\\\u0080a^-^", "\u0080a^-^", true
          "\\\u00ffba", "\u00ffba", true
          "\\\u00ff\u0080", "-\u00ff\\b*\u00ff", false
          "]**?[\u0080", "]?\u0080\\?[\u0080", true
          "]?[?", "]??", true
          "][^", "]b", true
          "][b]*", "]\u00ffb-", false
          "]\\]", "]]", true
          "]\\\u0080\u00ff*-AA", "\\\u0080\u00ff-\\\\", false
          "]]a", "]]a", true
          "]\u0080?[[\u0080*A", "b", false
          "]\u00ff*b\\\\-b", "\u00ff\\Ab\\\\-", false
          "^*\\", "^[^\\", true
          "^*\u0080", "^-?\u0080", true
          "^?\u0080\u0080\u00ff?\\", "AAa\u00ff?\u0080", false
          "^A*\u00ff", "^A*^\u00ff", true
          "^[?[\u0080a", "^A[\u0080a", false
          "^\\Aa\\[", "^b\u0080-\u0080\u00ff", false
          "^^Aa\u00ff[", "^^Aa", false
          "^^]\u00ff[\u00ffA[", "^^]\u00ff[", true
          "^a*\\^a", "^a^\\?\\^a", true
          "^aa*\\ba", "^aa*ba", true
          "a*\\\u0080", "a\\\\\u0080", true
          "aA\\", "aA\\", true
          "a\\[A[-", "a\\[A[-", false
          "a\\]\u00ff]", "A\u0080*[^a?", false
          "a^^*", "a^^", true
          "aa-[\u00ff", "aa-\u00ff", true
          "aa]-a\\", "aa]-a\\", true
          "ab**]\\^", "\u0080", false
          "b-[", "[]A*\u00ff]", false
          "b?b", "b?b", true
          "b[^\u00ff]*\u0080\u00ff", "b[^\u00ff[[-b\u0080\u00ff", true
          "b\\a?\u00ffA", "ba?\u00ffA", true
          "b\\\u0080", "b\u0080", true
          "b]A?\\[^[", "bA?-[*[", false
          "ba]b\u0080*\\", "^\u0080a\\", false
          "b\u00ff**?\u00ff*", "b\u00ff?\\]?\u00ff][b", true
          "\u0080**[*ba", "\u0080\\b-b][*ba", true
          "\u0080*[b", "\u0080^[b", true
          "\u0080*[\u0080[", "\u0080A[\u0080[", true
          "\u0080-*]b", "\u0080-]b", true
          "\u0080?\u0080", "\u0080?\u0080", true
          "\u0080A-\u00ff\\", "\u0080A-\u00ff\\", true
          "\u0080[\\^^*a", "[\u00ff\u00ff\u0080\u0080\\", false
          "\u0080[b\u0080-", "\u0080\u0080-", false
          "\u0080\\", "-aa", false
          "\u0080\\**^\u00ff?*", "\u0080a]\u00ff?\\b", false
          "\u0080\\\\", "^[\\", false
          "\u0080]b*a[-^", "[b\u00ff\\A^", false
          "\u0080^*\u0080[--", "", false
          "\u0080bb[\\", "\u0080bb\\", true
          "\u0080\u00ff*?\\-?", "\u0080\u00ff?\\-?", true
          "\u00ff*[*ba*", "\u00ff*[?\u0080b", true
          "\u00ff*\\", "\u00ffb\\]\\", true
          "\u00ff-^[*-", "\u00ffb[b-", false
          "\u00ff]*ab?\\", "]*[^^", false
          "\u00ff^\\", "\u00ff^\\", true
          "\u00ffaA[[\u00ffb-", "\u00ffaA[[\u00ff\u0080-", false
          "\u00ffbb?\\", "\u00ffbb\\", false
        ]

/// Random patterns built from config names, checked with CONFIG GET (noCase) on redis-server 7.0.15
/// (a sample of 3,000 patterns that all agreed).
[<Fact>]
let ``random noCase patterns agree with Redis's CONFIG GET`` () =
    expectAll
        mi
        [
          "*lAVe[^s]*", "min-slaves-to-write", false
          "*lAVe[^s]*", "slave-read-only", true
          "?AU]ersvva[^s]*", "port", false
          "Acti^eDe]ag*", "aof_rewrite_cpulist", false
          "Autoa^FMrEWteIn-A[a-z]*", "always-show-logo", false
          "ElMTeou*", "enable-debug-command", false
          "H?*", "hash-max-ziplist-value", true
          "H?*", "tls-ca-cert-dir", false
          "P*", "proto-max-bulk-len", true
          "P*", "slowlog-max-len", false
          "SLav[^s]*", "server_cpulist", false
          "SLav[^s]*", "slaveof", true
          "Xan?[^s]*", "active-defrag-ignore-bytes", false
          "ZsE-zAX[listpaXk-erie", "zset-max-listpack-entries", false
          "\\l?*", "io-threads-do-reads", false
          "\\l?*", "latency-monitor-threshold", true
          "ac?F[^s]*", "aclfile", true
          "ac?F[^s]*", "active-defrag-cycle-max", false
          "acT[a-z]*", "active-defrag-max-scan-fields", true
          "acT[a-z]*", "appenddirname", false
          "ac[a-z]*", "active-defrag-cycle-min", true
          "ac[a-z]*", "appenddirname", false
          "aof-[^s]*", "aof-use-rdb-preamble", true
          "aof-[^s]*", "auto-aof-rewrite-min-size", false
          "ctiVe-D*", "crash-log-enabled", false
          "iO-th*", "ignore-warnings", false
          "iO-th*", "io-threads-do-reads", true
          "lA*", "lazyfree-lazy-expire", true
          "lA*", "lfu-log-factor", false
          "lavOF[^s]*", "logfile", false
          "mAxm[^s]*", "maxclients", false
          "mAxm[^s]*", "maxmemory-samples", true
          "m[a-z]*", "cluster-allow-replica-migration", false
          "m[a-z]*", "masterauth", true
          "ma*[a-z]*", "maxmemory", true
          "ma*[a-z]*", "min-slaves-max-lag", false
          "prO?*", "port", false
          "prO?*", "propagation-error-behavior", true
          "pr[a-z]*", "port", false
          "pr[a-z]*", "proto-max-bulk-len", true
          "rd[a-z]*", "rdb-del-sync-files", true
          "rd[a-z]*", "requirepass", false
          "rdb?*", "rdbcompression", true
          "rdb?*", "replica-serve-stale-data", false
          "sYs[a-z]*", "stream-node-max-entries", false
          "sYs[a-z]*", "syslog-facility", true
          "se*", "set-proc-title", true
          "se*", "slaveof", false
          "servRipuLi[a-z]*", "slave-announce-port", false
          "shut*", "set-max-intset-entries", false
          "shut*", "shutdown-on-sigterm", true
          "shut[a-z]*", "shutdown-on-sigterm", true
          "shut[a-z]*", "slowlog-log-slower-than", false
          "sla[^s]*", "shutdown-on-sigterm", false
          "sla[^s]*", "slaveof", true
          "slave?*", "set-proc-title", false
          "slave?*", "slave-serve-stale-data", true
          "sloW[^s]*", "slaveof", false
          "sloW[^s]*", "slowlog-log-slower-than", true
          "uixx*", "unixsocket", false
        ]

// ---------------------------------------------------------------- properties

let private special (c: byte) = c = '*'B || c = '?'B || c = '['B || c = '\\'B

/// Small alphabets so equal strings come up often; includes `]`, `^`, `-` and high bytes, which are
/// special only inside brackets.
let private genPlain: Gen<byte[]> =
    Gen.elements [ 'a'B; 'b'B; 'A'B; ']'B; '^'B; '-'B; 0uy; 0xffuy ] |> Gen.arrayOf |> Gen.resize 6

[<Fact>]
let ``a pattern without special characters matches exactly the equal string`` () =
    let prop =
        Prop.forAll (Arb.fromGen (Gen.zip genPlain genPlain)) (fun (p, s) ->
            Array.exists special p
            || (Glob.isMatch p s false = Bytes.equal p s && Glob.isMatch p p false))

    check 500 prop

[<Fact>]
let ``with noCase a plain pattern matches the strings equal up to ASCII case`` () =
    let fold (x: byte[]) = x |> Array.map (fun c -> if c >= 'A'B && c <= 'Z'B then c + 32uy else c)

    let prop =
        Prop.forAll (Arb.fromGen (Gen.zip genPlain genPlain)) (fun (p, s) ->
            Array.exists special p || Glob.isMatch p s true = Bytes.equal (fold p) (fold s))

    check 500 prop

[<Fact>]
let ``a star matches every non-empty string, and a star after a prefix every extension`` () =
    let anyBytes = Gen.choose (0, 255) |> Gen.map byte |> Gen.arrayOf

    let prop =
        Prop.forAll (Arb.fromGen (Gen.zip genPlain anyBytes)) (fun (prefix, rest) ->
            let subject = Array.append prefix rest

            (subject.Length = 0 || Glob.isMatch "*"B subject false)
            && (Array.exists special prefix || Glob.isMatch (Array.append prefix "*"B) (Array.append subject "x"B) false))

    check 500 prop
