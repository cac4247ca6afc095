namespace Aof.Core

/// Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
/// Reproduces Redis 7.0's stringmatchlen result for every pattern, quirks included (checked against
/// redis-server 7.0.15):
/// - the empty subject matches only the empty pattern, even `*`; KEYS and SCAN skip matching for a lone `*`
///   (so they list the empty key) while PSUBSCRIBE does not: callers wanting that use `matchesEverything`;
/// - an unterminated `[` uses the rest of the pattern as its set; `[` alone matches nothing, `[^` anything;
/// - `]` right after `[` or `[^` closes the set at once (`[]a]` is an empty set followed by `a]`);
/// - `x-y` is a range wherever a `-` follows a character with one more character after it (`[a-]` is the
///   range `a`..`]`), reversed ranges are swapped, and range ends compare as signed C chars, so bytes
///   0x80-0xFF sort below 0x00;
/// - with `noCase`, ranges lower-case their ends after swapping, but `\x` inside brackets stays exact;
/// - more than 1000 non-trailing star groups never match (Redis's nesting guard).
/// Instead of Redis's recursion it backtracks only to the latest star, which gives the same answers because
/// every other element consumes exactly one byte, and costs at most pattern x subject steps.
module Glob =
    /// Redis gives up (no match) when star handling nests deeper than this.
    [<Literal>]
    let private MaxStarNesting = 1000

    let inline private lower (b: byte) : byte =
        if b >= 'A'B && b <= 'Z'B then b + 32uy else b

    /// C's tolower on a signed char in the C locale: only ASCII letters change.
    let inline private lowerSigned (c: int) : int =
        if c >= int 'A' && c <= int 'Z' then c + 32 else c

    let inline private byteEq (noCase: bool) (a: byte) (b: byte) : bool =
        if noCase then lower a = lower b else a = b

    /// Whether the bracket set opening at `start` accepts `c`, and where the element after it begins.
    let private bracket (pattern: byte[]) (start: int) (c: byte) (noCase: bool) : struct (bool * int) =
        let len = pattern.Length
        let mutable q = start + 1
        let negate = q < len && pattern[q] = '^'B

        if negate then
            q <- q + 1

        let mutable matched = false
        let mutable next = -1

        while next < 0 do
            let rest = len - q

            if rest >= 2 && pattern[q] = '\\'B then
                if pattern[q + 1] = c then
                    matched <- true

                q <- q + 2
            elif rest >= 1 && pattern[q] = ']'B then
                next <- q + 1
            elif rest <= 0 then
                next <- len
            elif rest >= 3 && pattern[q + 1] = '-'B then
                let mutable lo = int (sbyte pattern[q])
                let mutable hi = int (sbyte pattern[q + 2])

                if lo > hi then
                    let t = lo
                    lo <- hi
                    hi <- t

                let ch = int (sbyte c)

                let struct (lo, hi, ch) =
                    if noCase then
                        struct (lowerSigned lo, lowerSigned hi, lowerSigned ch)
                    else
                        struct (lo, hi, ch)

                if ch >= lo && ch <= hi then
                    matched <- true

                q <- q + 3
            else
                if byteEq noCase pattern[q] c then
                    matched <- true

                q <- q + 1

        struct (matched <> negate, next)

    /// Whether the one-byte element (anything but a star) at `p` accepts `c`, and where the next begins.
    let private element (pattern: byte[]) (p: int) (c: byte) (noCase: bool) : struct (bool * int) =
        match pattern[p] with
        | '?'B -> struct (true, p + 1)
        | '['B -> bracket pattern p c noCase
        // A trailing backslash has nothing to escape and matches itself.
        | '\\'B when p + 1 < pattern.Length -> struct (byteEq noCase pattern[p + 1] c, p + 2)
        | b -> struct (byteEq noCase b c, p + 1)

    let isMatch (pattern: byte[]) (subject: byte[]) (noCase: bool) : bool =
        let plen = pattern.Length
        let slen = subject.Length

        // Redis drops trailing stars only after consuming a byte, so even `*` rejects the empty subject.
        if slen = 0 then
            plen = 0
        else
            let mutable p = 0
            let mutable s = 0
            // Where to resume after the latest star: the pattern after it, and the subject byte it last
            // stopped before.
            let mutable resumePattern = -1
            let mutable resumeSubject = 0
            let mutable stars = 0
            let mutable starsAtResume = 0
            let mutable result = ValueNone

            while result.IsNone do
                if s = slen then
                    while p < plen && pattern[p] = '*'B do
                        p <- p + 1

                    result <- ValueSome(p = plen)
                elif p < plen && pattern[p] = '*'B then
                    while p + 1 < plen && pattern[p + 1] = '*'B do
                        p <- p + 1

                    if p = plen - 1 then
                        result <- ValueSome true
                    else
                        stars <- stars + 1

                        if stars > MaxStarNesting then
                            result <- ValueSome false
                        else
                            p <- p + 1
                            resumePattern <- p
                            resumeSubject <- s
                            starsAtResume <- stars
                else
                    let struct (ok, next) =
                        if p < plen then element pattern p subject[s] noCase else struct (false, p)

                    if ok then
                        p <- next
                        s <- s + 1
                    // Let the latest star swallow one more byte; what follows it needs at least one.
                    elif resumePattern >= 0 && resumeSubject + 1 < slen then
                        resumeSubject <- resumeSubject + 1
                        s <- resumeSubject
                        p <- resumePattern
                        stars <- starsAtResume
                    else
                        result <- ValueSome false

            result.Value

    /// A lone `*`: KEYS and SCAN MATCH treat it as "no filter" and list even the empty key, which `isMatch`
    /// (like Redis's matcher) would reject.
    let matchesEverything (pattern: byte[]) : bool = pattern.Length = 1 && pattern[0] = '*'B
