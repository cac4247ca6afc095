namespace Aof.Core

/// INCRBYFLOAT's and HINCRBYFLOAT's arithmetic as Redis 7.0 does it on x86-64: both texts read as 80-bit
/// long doubles (a 64-bit significand), added with one rounding, printed with `%.17Lf` and trailing zeros trimmed. Done
/// exactly with big integers, so the text matches Redis's to the last digit, including what long double
/// rounding shows (0.1 + 1e15 is `1000000000000000.0999755859375`) and sums past a double's range.
/// Not handled: hexadecimal input (strtold reads `0x10`; it is refused here as not a float) and
/// long double subnormals (below 3.4e-4932, treated as normal numbers).
module LongDouble =
    open System.Numerics

    /// sign * Mant * 2^Exp, with 2^63 <= Mant < 2^64 (or Mant = 0).
    [<Struct>]
    type private Binary = { Negative: bool; Mant: BigInteger; Exp: int }

    /// Largest and smallest binary exponents of a long double's leading bit.
    let private maxTopExp = 16383
    let private minTopExp = -16445

    let private two64 = BigInteger.One <<< 64

    /// num/den (both positive) rounded to nearest-even with a 64-bit significand.
    let private round (negative: bool) (num: BigInteger) (den: BigInteger) : Binary =
        let shift = 66 - int (num.GetBitLength() - den.GetBitLength())
        let scaledNum = if shift >= 0 then num <<< shift else num
        let scaledDen = if shift >= 0 then den else den <<< -shift
        let mutable rem = BigInteger.Zero
        let q = BigInteger.DivRem(scaledNum, scaledDen, &rem)
        let extra = int (q.GetBitLength()) - 64
        let mutable mant = q >>> extra
        let dropped = q - (mant <<< extra)
        let half = BigInteger.One <<< (extra - 1)

        if dropped > half || (dropped = half && (not rem.IsZero || not mant.IsEven)) then
            mant <- mant + BigInteger.One

        let mutable exp = extra - shift

        if mant = two64 then
            mant <- mant >>> 1
            exp <- exp + 1

        { Negative = negative; Mant = mant; Exp = exp }

    let private zero = { Negative = false; Mant = BigInteger.Zero; Exp = 0 }

    [<RequireQualifiedAccess>]
    type private Parsed =
        | Finite of Binary
        | Infinite
        | Invalid

    /// Decimal text as strtold reads it (and Redis's string2ld accepts it): optional sign, digits with an
    /// optional point, optional exponent; `inf`/`infinity`; no spaces; overflow and underflow to zero refused.
    let private parse (b: byte[]) : Parsed =
        let text = System.Text.Encoding.Latin1.GetString b
        let lower = text.ToLowerInvariant()
        let unsigned = if lower.StartsWith "-" || lower.StartsWith "+" then lower.Substring 1 else lower
        let negative = lower.StartsWith "-"

        if b.Length = 0 || b.Length >= 5120 then
            Parsed.Invalid
        elif unsigned = "inf" || unsigned = "infinity" then
            Parsed.Infinite
        else
            let mutable i = 0
            let mutable digits = BigInteger.Zero
            let mutable any = false
            let mutable scale = 0
            let mutable ok = true

            let inline isDigit (c: char) = c >= '0' && c <= '9'

            while i < unsigned.Length && isDigit unsigned[i] do
                digits <- digits * BigInteger 10 + BigInteger(int unsigned[i] - 48)
                any <- true
                i <- i + 1

            if i < unsigned.Length && unsigned[i] = '.' then
                i <- i + 1

                while i < unsigned.Length && isDigit unsigned[i] do
                    digits <- digits * BigInteger 10 + BigInteger(int unsigned[i] - 48)
                    scale <- scale - 1
                    any <- true
                    i <- i + 1

            let mutable exp10 = 0L

            if any && i < unsigned.Length && unsigned[i] = 'e' then
                let mutable j = i + 1
                let expNegative = j < unsigned.Length && unsigned[j] = '-'
                if j < unsigned.Length && (unsigned[j] = '-' || unsigned[j] = '+') then j <- j + 1
                let start = j

                while j < unsigned.Length && isDigit unsigned[j] do
                    if exp10 < 100_000L then exp10 <- exp10 * 10L + int64 (int unsigned[j] - 48)
                    j <- j + 1

                if j > start then
                    i <- j
                    if expNegative then exp10 <- -exp10

            if not any || i <> unsigned.Length then ok <- false

            if not ok then
                Parsed.Invalid
            elif digits.IsZero then
                Parsed.Finite { zero with Negative = negative }
            else
                let e = int64 scale + exp10
                // Far outside the long double range either way: overflow or underflow, without big powers.
                let magnitude = float (digits.GetBitLength()) * 0.30103 + float e

                if magnitude > 4933.0 then Parsed.Invalid
                elif magnitude < -4952.0 then Parsed.Invalid
                else
                    let v =
                        if e >= 0L then round negative (digits * BigInteger.Pow(BigInteger 10, int e)) BigInteger.One
                        else round negative digits (BigInteger.Pow(BigInteger 10, int -e))

                    let top = v.Exp + 63
                    if top > maxTopExp || top < minTopExp then Parsed.Invalid else Parsed.Finite v

    let private add (a: Binary) (b: Binary) : Binary =
        if a.Mant.IsZero then b
        elif b.Mant.IsZero then a
        else
            let e = min a.Exp b.Exp
            let signed (x: Binary) = (if x.Negative then BigInteger.Negate x.Mant else x.Mant) <<< (x.Exp - e)
            let sum = signed a + signed b

            if sum.IsZero then
                zero
            else
                let r = round (sum.Sign < 0) (BigInteger.Abs sum) BigInteger.One
                { r with Exp = r.Exp + e }

    /// `%.17Lf` of the value, trailing zeros and a bare point trimmed, and `-0` written `0`.
    let private format (v: Binary) : string =
        let scale = BigInteger.Pow(BigInteger 10, 17)

        let fixed17 =
            if v.Exp >= 0 then
                (v.Mant <<< v.Exp) * scale
            else
                // Round half to even on the exact value, as glibc's printf does.
                let den = BigInteger.One <<< -v.Exp
                let mutable rem = BigInteger.Zero
                let q = BigInteger.DivRem(v.Mant * scale, den, &rem)
                let twice = rem * BigInteger 2
                if twice > den || (twice = den && not q.IsEven) then q + BigInteger.One else q

        let digits = fixed17.ToString().PadLeft(18, '0')
        let whole = digits.Substring(0, digits.Length - 17)
        let fraction = digits.Substring(digits.Length - 17).TrimEnd '0'
        let text = if fraction.Length = 0 then whole else whole + "." + fraction
        if v.Negative && text <> "0" then "-" + text else text

    /// Whether Redis reads the text as a (finite or infinite) long double: HINCRBYFLOAT's check of the
    /// value already in the field.
    let isNumber (b: byte[]) : bool =
        match parse b with
        | Parsed.Invalid -> false
        | _ -> true

    /// Whether the text is a finite long double (HINCRBYFLOAT's increment: Redis refuses infinity).
    [<RequireQualifiedAccess>]
    type Increment =
        | Valid
        | NotANumber
        | Infinite

    let checkIncrement (b: byte[]) : Increment =
        match parse b with
        | Parsed.Finite _ -> Increment.Valid
        | Parsed.Infinite -> Increment.Infinite
        | Parsed.Invalid -> Increment.NotANumber

    /// current + increment, as HINCRBYFLOAT stores and replies it; Error when either is not a number or the
    /// sum is infinite.
    let addTexts (current: byte[]) (increment: byte[]) : Result<byte[], string> =
        match parse current, parse increment with
        | Parsed.Finite a, Parsed.Finite b ->
            let sum = add a b

            if sum.Exp + 63 > maxTopExp then Error "ERR increment would produce NaN or Infinity"
            else Ok(System.Text.Encoding.ASCII.GetBytes(format sum))
        | Parsed.Invalid, _
        | _, Parsed.Invalid -> Error "ERR value is not a valid float"
        | _ -> Error "ERR increment would produce NaN or Infinity"
