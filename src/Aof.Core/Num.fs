namespace Aof.Core

open System
open System.Globalization

/// Numbers as Redis reads and prints them: strict integer syntax (no sign `+`, no spaces, no leading
/// zeros), and INCRBYFLOAT's human-friendly decimal output.
module Num =
    /// Redis's string-to-long-long: digits with an optional leading `-`, no leading zeros, no `-0`,
    /// within int64. Anything else is not an integer.
    let parseInt64 (text: ReadOnlySpan<byte>) : int64 voption =
        if text.IsEmpty || text.Length >= 21 then
            ValueNone
        elif text.Length = 1 && text[0] = '0'B then
            ValueSome 0L
        else
            let negative = text[0] = '-'B
            let digits = if negative then text.Slice 1 else text

            if digits.IsEmpty || digits[0] < '1'B || digits[0] > '9'B then
                ValueNone
            elif digits.Length <= 18 then
                // Fewer than 19 digits cannot overflow: the common case (every RESP length header, most
                // counters) skips the per-digit bound check.
                let mutable acc = 0L
                let mutable ok = true
                let mutable i = 0

                while ok && i < digits.Length do
                    let d = int digits[i] - 48

                    if d < 0 || d > 9 then ok <- false
                    else
                        acc <- acc * 10L + int64 d
                        i <- i + 1

                if not ok then ValueNone
                elif negative then ValueSome(-acc)
                else ValueSome acc
            else
                // Accumulate as a negative number so int64.MinValue is reachable without overflow.
                let mutable acc = 0L
                let mutable ok = true
                let mutable i = 0

                while ok && i < digits.Length do
                    let d = int64 digits[i] - 48L

                    if d < 0L || d > 9L || acc < (Int64.MinValue + d) / 10L then
                        ok <- false
                    else
                        acc <- acc * 10L - d
                        i <- i + 1

                if not ok then ValueNone
                elif negative then ValueSome acc
                elif acc = Int64.MinValue then ValueNone
                else ValueSome(-acc)

    let tryParseInt64 (b: byte[]) : int64 voption = parseInt64 (ReadOnlySpan b)

    /// The decimal digits of `n`, written straight into an exact-size array (no intermediate string:
    /// every INCR formats one).
    let formatInt64 (n: int64) : byte[] =
        if n = 0L then
            [| '0'B |]
        else
            let neg = n < 0L
            // Work on the negative value so int64.MinValue needs no special case.
            let mutable v = if neg then n else -n
            let mutable digits = 0
            let mutable t = v

            while t <> 0L do
                t <- t / 10L
                digits <- digits + 1

            let len = if neg then digits + 1 else digits
            let out = Array.zeroCreate<byte> len
            let mutable i = len - 1

            while v <> 0L do
                out[i] <- byte (48L - v % 10L)
                v <- v / 10L
                i <- i - 1

            if neg then out[0] <- '-'B
            out

    let private isFloatByte (c: byte) =
        (c >= '0'B && c <= '9'B) || c = '.'B || c = '-'B || c = '+'B || c = 'e'B || c = 'E'B

    /// A float argument as Redis's strtold accepts it: decimal or exponent notation, `inf`, `-inf`;
    /// no spaces, no NaN.
    let tryParseFloat (b: byte[]) : float voption =
        if b.Length = 0 || b.Length > 5000 then
            ValueNone
        else
            let s = Text.Encoding.ASCII.GetString b

            match s.ToLowerInvariant() with
            | "inf"
            | "+inf"
            | "infinity"
            | "+infinity" -> ValueSome Double.PositiveInfinity
            | "-inf"
            | "-infinity" -> ValueSome Double.NegativeInfinity
            | _ when Array.forall isFloatByte b ->
                match Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture) with
                | true, v when not (Double.IsNaN v) -> ValueSome v
                | _ -> ValueNone
            | _ -> ValueNone
