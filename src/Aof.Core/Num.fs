namespace Aof.Core

open System
open System.Globalization

/// Numbers as Redis reads and prints them: strict integer syntax (no sign `+`, no spaces, no leading
/// zeros), and INCRBYFLOAT's human-friendly decimal output.
module Num =
    /// Redis's string-to-long-long: digits with an optional leading `-`, no leading zeros, no `-0`,
    /// within int64. Anything else is not an integer.
    let tryParseInt64 (b: byte[]) : int64 voption =
        let n = b.Length

        if n = 0 || n > 20 then
            ValueNone
        elif n = 1 && b[0] = '0'B then
            ValueSome 0L
        else
            let neg = b[0] = '-'B
            let start = if neg then 1 else 0

            if start >= n || b[start] < '1'B || b[start] > '9'B then
                ValueNone
            else
                // Accumulate as a negative number so int64.MinValue fits.
                let mutable acc = 0L
                let mutable ok = true
                let mutable i = start

                while ok && i < n do
                    let c = b[i]

                    if c < '0'B || c > '9'B then
                        ok <- false
                    else
                        let d = int64 (c - '0'B)

                        if acc < (Int64.MinValue + d) / 10L then
                            ok <- false
                        else
                            acc <- acc * 10L - d

                    i <- i + 1

                if not ok then ValueNone
                elif neg then ValueSome acc
                elif acc = Int64.MinValue then ValueNone
                else ValueSome(-acc)

    let formatInt64 (n: int64) : byte[] =
        Text.Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture))

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

    /// INCRBYFLOAT's sum and its text. Redis adds in long double and prints 17 decimals with trailing
    /// zeros trimmed; decimal arithmetic gives the same text for every value it can hold (so 0.1 + 0.2
    /// prints `0.3`), and double arithmetic covers the rest.
    let addFloats (current: byte[]) (increment: byte[]) : Result<byte[], string> =
        let style = NumberStyles.Float
        let inv = CultureInfo.InvariantCulture

        match tryParseFloat current, tryParseFloat increment with
        | ValueNone, _ -> Error "ERR value is not a valid float"
        | _, ValueNone -> Error "ERR value is not a valid float"
        | ValueSome a, ValueSome d ->
            let sum = a + d

            if Double.IsNaN sum || Double.IsInfinity sum then
                Error "ERR increment would produce NaN or Infinity"
            else
                let asDecimal =
                    match
                        Decimal.TryParse(Text.Encoding.ASCII.GetString current, style, inv),
                        Decimal.TryParse(Text.Encoding.ASCII.GetString increment, style, inv)
                    with
                    | (true, x), (true, y) ->
                        try
                            let r = Math.Round(x + y, 17, MidpointRounding.ToEven)
                            let t = r.ToString("0.#################", inv)
                            ValueSome(if t = "-0" then "0" else t)
                        with :? OverflowException ->
                            ValueNone
                    | _ -> ValueNone

                let text =
                    match asDecimal with
                    | ValueSome t -> t
                    | ValueNone ->
                        let t = sum.ToString("R", inv)

                        if t.Contains 'E' then
                            sum.ToString("0.#################", inv)
                        else
                            t

                Ok(Text.Encoding.ASCII.GetBytes text)
