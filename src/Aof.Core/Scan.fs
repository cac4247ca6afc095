namespace Aof.Core

/// HSCAN's and SSCAN's options. Redis reads them only once it has found the key (a missing key answers an
/// empty scan whatever follows the cursor), so a bad option is kept as the error to answer then.
[<Struct>]
type ScanOptions =
    { Pattern: byte[] voption
      Count: int }

/// What the SCAN family shares: the cursor as Redis reads it, and MATCH / COUNT.
module Scan =
    /// A cursor as C's strtoul reads it: an optional sign then decimal digits (none reads as 0), no leading
    /// space, nothing after, within 64 bits; a minus wraps around as in C.
    let parseCursor (b: byte[]) : uint64 voption =
        let negative = b.Length > 0 && b[0] = '-'B
        let start = if b.Length > 0 && (b[0] = '-'B || b[0] = '+'B) then 1 else 0
        let mutable acc = 0UL
        let mutable ok = not (start = 1 && b.Length = 1)
        let mutable i = start

        while ok && i < b.Length do
            let d = int b[i] - 48

            if d < 0 || d > 9 || acc > (System.UInt64.MaxValue - uint64 d) / 10UL then ok <- false
            else
                acc <- acc * 10UL + uint64 d
                i <- i + 1

        if not ok then ValueNone
        elif negative then ValueSome(0UL - acc)
        else ValueSome acc

    /// MATCH and COUNT from `args[from..]`, each any number of times (the last wins); anything else is a
    /// syntax error.
    let options (args: byte[][]) (from: int) : Result<ScanOptions, Reply> =
        let rec go i (opts: ScanOptions) =
            if i >= args.Length then
                Ok opts
            elif i + 1 >= args.Length then
                Error Reply.syntaxError
            elif Bytes.eqLower "match" args[i] then
                go (i + 2) { opts with Pattern = ValueSome args[i + 1] }
            elif Bytes.eqLower "count" args[i] then
                match Num.tryParseInt64 args[i + 1] with
                | ValueNone -> Error Reply.notInteger
                | ValueSome n when n < 1L -> Error Reply.syntaxError
                | ValueSome n -> go (i + 2) { opts with Count = int (min n 1_000_000L) }
            else
                Error Reply.syntaxError

        go from { Pattern = ValueNone; Count = 10 }

    /// Whether a scanned element passes MATCH.
    let matches (o: ScanOptions) (element: byte[]) : bool =
        match o.Pattern with
        | ValueNone -> true
        | ValueSome p -> Glob.matchesEverything p || Glob.isMatch p element false
